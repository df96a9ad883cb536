"""The account an audit entry concerns, as a leaf column: failed sign-ins found by account.

The column is derived from the entries' bytes like the others, so the leaves already
integrated get it here; ``exchange audit verify`` checks it as it checks the rest.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

import orjson
import sqlalchemy as sa
from alembic import op

from exchange.trail.entry_fields import account_of

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_CHUNK = 5000


def upgrade() -> None:
    op.add_column("audit_leaf", sa.Column("account_user", sa.String(64), nullable=True))
    op.create_index("ix_audit_leaf_account", "audit_leaf", ["account_user", "leaf_index"])
    connection = op.get_bind()
    # audit_leaf is append-only (0002): its triggers are lifted for this one derivation,
    # inside the migration's transaction, and put back before it commits.
    if connection.dialect.name == "postgresql":
        op.execute("ALTER TABLE audit_leaf DISABLE TRIGGER audit_leaf_append_only")
        _fill(connection)
        op.execute("ALTER TABLE audit_leaf ENABLE TRIGGER audit_leaf_append_only")
        return
    op.execute("DROP TRIGGER audit_leaf_no_update")
    _fill(connection)
    op.execute(
        "CREATE TRIGGER audit_leaf_no_update BEFORE UPDATE ON audit_leaf "
        "BEGIN SELECT RAISE(ABORT, 'audit_leaf is append-only'); END"
    )


def _fill(connection: sa.Connection) -> None:
    leaf = sa.table(
        "audit_leaf",
        sa.column("leaf_index", sa.BigInteger),
        sa.column("entry_seq", sa.Integer),
        sa.column("account_user", sa.String),
    )
    entry = sa.table("audit_entry", sa.column("seq", sa.Integer), sa.column("canonical"))
    after = -1
    while True:
        rows = connection.execute(
            sa.select(leaf.c.leaf_index, entry.c.canonical)
            .join(entry, entry.c.seq == leaf.c.entry_seq)
            .where(leaf.c.leaf_index > after)
            .order_by(leaf.c.leaf_index)
            .limit(_CHUNK)
        ).all()
        if not rows:
            return
        accounts = []
        for index, canonical in rows:
            try:
                document = orjson.loads(bytes(canonical))
            except ValueError:
                # Unreadable bytes: verification names the entry; nothing is derived.
                continue
            account = account_of(document) if isinstance(document, dict) else None
            if account is not None:
                accounts.append({"index": index, "account": account})
        if accounts:
            connection.execute(
                sa.update(leaf)
                .where(leaf.c.leaf_index == sa.bindparam("index"))
                .values(account_user=sa.bindparam("account")),
                accounts,
            )
        after = int(rows[-1][0])
