"""The verifiable audit log: leaf positions, stored tree hashes, checkpoints, cosignatures.

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

APPEND_ONLY = ("audit_leaf", "audit_hash", "audit_checkpoint", "audit_cosignature")


def upgrade() -> None:
    # The sequencer's order (DESIGN §9): leaf index → the entry it holds.
    op.create_table(
        "audit_leaf",
        sa.Column("leaf_index", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("entry_seq", sa.Integer, nullable=False, unique=True),
    )
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
