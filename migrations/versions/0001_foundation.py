"""Agencies, systems, certificates, signing keys, records, sharing policy, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)

# Tables that are only ever appended to: the database itself refuses UPDATE and DELETE.
APPEND_ONLY = ("audit_entry", "audit_target", "record_version", "policy_version")


def upgrade() -> None:
    op.create_table(
        "agency",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name_ja", sa.String(200), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=False),
        sa.Column("parent_id", sa.String(32), sa.ForeignKey("agency.id"), nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "system",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("agency_id", sa.String(32), sa.ForeignKey("agency.id"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("roles", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("agency_id", "name"),
    )
    op.create_table(
        "policy_version",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("rules", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
    )
    op.create_table(
        "certificate",
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("system_id", sa.Integer, sa.ForeignKey("system.id"), nullable=False, index=True),
        sa.Column("serial", sa.String(60), nullable=False, unique=True),
        sa.Column("pem", sa.Text, nullable=False),
        sa.Column("not_before", TS, nullable=False),
        sa.Column("not_after", TS, nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("revocation_reason", sa.String(40), nullable=True),
    )
    op.create_table(
        "signing_key",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column(
            "agency_id", sa.String(32), sa.ForeignKey("agency.id"), nullable=False, index=True
        ),
        sa.Column("alg", sa.String(16), nullable=False),
        sa.Column("jwk", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("not_before", TS, nullable=False),
        sa.Column("not_after", TS, nullable=True),
        sa.Column("registered_at", TS, nullable=False),
        sa.Column("retired_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("compromised_at", TS, nullable=True),
    )
    op.create_table(
        "record",
        sa.Column("pk", sa.Integer, primary_key=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("publisher", sa.String(32), sa.ForeignKey("agency.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("first_received_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("prefecture", sa.String(2), nullable=True),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("countries", sa.String(400), nullable=False),
        sa.Column("names", sa.Text, nullable=False),
        sa.Column("audience_restricted", sa.Boolean, nullable=False),
    )
    op.create_index("ix_record_type_pk", "record", ["type", "pk"])
    op.create_index("ix_record_publisher_pk", "record", ["publisher", "pk"])
    op.create_index("ix_record_prefecture_pk", "record", ["prefecture", "pk"])
    op.create_index("ix_record_issued_at", "record", ["issued_at"])
    op.create_table(
        "record_audience",
        sa.Column("record_pk", sa.Integer, sa.ForeignKey("record.pk"), primary_key=True),
        sa.Column("agency_id", sa.String(32), primary_key=True),
    )
    op.create_table(
        "record_version",
        sa.Column("record_pk", sa.Integer, sa.ForeignKey("record.pk"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("canonical", sa.LargeBinary, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("kid", sa.String(64), sa.ForeignKey("signing_key.kid"), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("system_id", sa.Integer, sa.ForeignKey("system.id"), nullable=False),
        sa.Column("audit_entry_id", sa.String(36), nullable=False),
        sa.Column("receipt", sa.Text, nullable=False),
    )
    op.create_table(
        "audit_entry",
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("actor_agency", sa.String(32), nullable=True),
        sa.Column("actor_system", sa.String(64), nullable=True),
        sa.Column("actor_fingerprint", sa.String(64), nullable=True),
        sa.Column("purpose", sa.String(32), nullable=True),
        sa.Column("canonical", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_audit_entry_action_seq", "audit_entry", ["action", "seq"])
    op.create_index("ix_audit_entry_agency_seq", "audit_entry", ["actor_agency", "seq"])
    op.create_index("ix_audit_entry_recorded_at", "audit_entry", ["recorded_at"])
    op.create_table(
        "audit_target",
        sa.Column("entry_seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("record_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    )
    op.create_index("ix_audit_target_record", "audit_target", ["record_id", "entry_seq"])
    _append_only(op.get_bind().dialect.name)


def _append_only(dialect: str) -> None:
    if dialect == "postgresql":
        op.execute(
            """
            CREATE FUNCTION exchange_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only', TG_TABLE_NAME
                    USING ERRCODE = 'insufficient_privilege';
            END $$
            """
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION exchange_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION exchange_append_only()"
            )
        return
    for table in APPEND_ONLY:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def downgrade() -> None:
    # The audit log is evidence: no migration takes it away.
    raise RuntimeError("The foundation schema cannot be downgraded.")
