"""TAXII status resources: the outcome of each Add Objects request, kept for its agency.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "taxii_status",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("agency_id", sa.String(32), sa.ForeignKey("agency.id"), nullable=False),
        sa.Column("system_id", sa.Integer, sa.ForeignKey("system.id"), nullable=False),
        sa.Column("collection_id", sa.String(36), nullable=False),
        sa.Column("request_timestamp", TS, nullable=False),
        sa.Column("audit_entry_id", sa.String(36), nullable=False),
        sa.Column("total_count", sa.Integer, nullable=False),
        sa.Column("success_count", sa.Integer, nullable=False),
        sa.Column("failure_count", sa.Integer, nullable=False),
        sa.Column("pending_count", sa.Integer, nullable=False),
        sa.Column("details", sa.Text, nullable=False),
    )
    op.create_index("ix_taxii_status_agency", "taxii_status", ["agency_id"])
    # A status is complete when written: the database keeps it as it was answered.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER taxii_status_append_only BEFORE UPDATE OR DELETE ON taxii_status "
            "FOR EACH ROW EXECUTE FUNCTION exchange_append_only()"
        )
        op.execute(
            "CREATE TRIGGER taxii_status_no_truncate BEFORE TRUNCATE ON taxii_status "
            "FOR EACH STATEMENT EXECUTE FUNCTION exchange_append_only()"
        )
        return
    for event in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER taxii_status_no_{event.lower()} BEFORE {event} ON taxii_status "
            "BEGIN SELECT RAISE(ABORT, 'taxii_status is append-only'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER taxii_status_no_truncate ON taxii_status")
        op.execute("DROP TRIGGER taxii_status_append_only ON taxii_status")
    else:
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER taxii_status_no_{event}")
    op.drop_index("ix_taxii_status_agency", "taxii_status")
    op.drop_table("taxii_status")
