"""Notices to sending-country governments: signed versions and signed steps, append-only.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
APPEND_ONLY = ("notice_version", "notice_step")


def upgrade() -> None:
    op.create_table(
        "notice",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("agency_id", sa.String(32), sa.ForeignKey("agency.id"), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("head_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("dispatched_at", TS, nullable=True),
    )
    op.create_index("ix_notice_agency_state", "notice", ["agency_id", "state"])
    op.create_index("ix_notice_state_dispatched", "notice", ["state", "dispatched_at"])
    op.create_table(
        "notice_version",
        sa.Column("notice_id", sa.String(36), sa.ForeignKey("notice.id"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("canonical", sa.LargeBinary, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("kid", sa.String(64), sa.ForeignKey("signing_key.kid"), nullable=False),
        sa.Column("drafted_by", sa.String(64), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("system_id", sa.Integer, sa.ForeignKey("system.id"), nullable=False),
        sa.Column("audit_entry_id", sa.String(36), nullable=False),
    )
    op.create_table(
        "notice_step",
        sa.Column("notice_id", sa.String(36), sa.ForeignKey("notice.id"), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("step", sa.String(16), nullable=False),
        sa.Column("notice_version", sa.Integer, nullable=False),
        sa.Column("canonical", sa.LargeBinary, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("kid", sa.String(64), sa.ForeignKey("signing_key.kid"), nullable=False),
        sa.Column("agency_id", sa.String(32), sa.ForeignKey("agency.id"), nullable=False),
        sa.Column("by_user", sa.String(64), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("system_id", sa.Integer, sa.ForeignKey("system.id"), nullable=False),
        sa.Column("audit_entry_id", sa.String(36), nullable=False),
    )
    _append_only(op.get_bind().dialect.name)


def _append_only(dialect: str) -> None:
    # exchange_append_only() is the function of 0001.
    for table in APPEND_ONLY:
        if dialect == "postgresql":
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION exchange_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION exchange_append_only()"
            )
            continue
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def downgrade() -> None:
    op.drop_table("notice_step")
    op.drop_table("notice_version")
    op.drop_index("ix_notice_state_dispatched", "notice")
    op.drop_index("ix_notice_agency_state", "notice")
    op.drop_table("notice")
