"""The verifiable audit log: leaves, stored tree hashes, checkpoints, cosignatures; cards.

A request now writes only the evidence: its entry's RFC 8785 bytes. What auditors query
by (action, agency, time, purpose, record) is derived from those bytes by the integrator,
in the same transaction that gives the entry its leaf, so a request's audit write stays
one small insert and ``exchange audit verify`` checks the derived columns against the bytes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)

APPEND_ONLY = (
    "audit_leaf",
    "audit_target",
    "audit_hash",
    "audit_checkpoint",
    "audit_cosignature",
)
DERIVED = (
    "recorded_at",
    "action",
    "outcome",
    "status",
    "actor_agency",
    "actor_system",
    "actor_fingerprint",
    "purpose",
)


def upgrade() -> None:
    for index in ("action_seq", "agency_seq", "recorded_at"):
        op.drop_index(f"ix_audit_entry_{index}", table_name="audit_entry")
    for column in DERIVED:
        op.drop_column("audit_entry", column)
    # Rebuilt from the entries' bytes as they are integrated.
    op.drop_table("audit_target")

    # The sequencer's order (DESIGN §9), and what auditors query by.
    op.create_table(
        "audit_leaf",
        sa.Column("leaf_index", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("entry_seq", sa.Integer, nullable=False, unique=True),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("actor_agency", sa.String(32), nullable=True),
        sa.Column("actor_system", sa.String(64), nullable=True),
        sa.Column("actor_fingerprint", sa.String(64), nullable=True),
        sa.Column("purpose", sa.String(32), nullable=True),
    )
    op.create_index("ix_audit_leaf_action", "audit_leaf", ["action", "leaf_index"])
    op.create_index("ix_audit_leaf_agency", "audit_leaf", ["actor_agency", "leaf_index"])
    op.create_index("ix_audit_leaf_recorded_at", "audit_leaf", ["recorded_at"])
    op.create_table(
        "audit_target",
        sa.Column("leaf_index", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("record_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    )
    op.create_index("ix_audit_target_record", "audit_target", ["record_id", "leaf_index"])
    # Every perfect subtree's hash, keyed by its position in append order
    # (golang.org/x/mod/sumdb/tlog StoredHashIndex): proofs read O(log n) of these.
    op.create_table(
        "audit_hash",
        sa.Column("stored_index", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
    )
    op.create_table(
        "audit_checkpoint",
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "audit_cosignature",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "checkpoint_size",
            sa.BigInteger,
            sa.ForeignKey("audit_checkpoint.size"),
            nullable=False,
        ),
        sa.Column("agency_id", sa.String(32), sa.ForeignKey("agency.id"), nullable=False),
        sa.Column("kid", sa.String(64), sa.ForeignKey("signing_key.kid"), nullable=False),
        sa.Column("witness", sa.String(200), nullable=False),
        sa.Column("line", sa.Text, nullable=False),
        sa.Column("signed_at", TS, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.UniqueConstraint("checkpoint_size", "witness"),
    )
    op.create_index("ix_audit_cosignature_witness", "audit_cosignature", ["witness", "id"])
    # Residence-card tokens of a record's current version: search by card, whose term the
    # audit log keeps only as an HMAC.
    op.create_table(
        "record_card",
        sa.Column("record_pk", sa.Integer, sa.ForeignKey("record.pk"), primary_key=True),
        sa.Column("token", sa.String(48), primary_key=True),
    )
    op.create_index("ix_record_card_token", "record_card", ["token"])
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION exchange_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION exchange_append_only()"
            )
        # Wakes the integrator (LISTEN exchange_audit) without a statement of its own:
        # PostgreSQL folds a transaction's identical notifications into one.
        op.execute(
            """
            CREATE FUNCTION exchange_notify_audit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('exchange_audit', '');
                RETURN NULL;
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER audit_entry_notify AFTER INSERT ON audit_entry "
            "FOR EACH STATEMENT EXECUTE FUNCTION exchange_notify_audit()"
        )
        return
    for table in APPEND_ONLY:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def downgrade() -> None:
    raise RuntimeError("The audit log cannot be downgraded.")
