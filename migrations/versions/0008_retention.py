"""Retention: records' retention dates, disposals and legal holds.

``record_version`` stays append-only but for one change: its ``canonical`` bytes may be
emptied, every other column unchanged, where ``record_disposal`` names the version.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

import json
from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
_CHUNK = 2000

# Every column of record_version but canonical: a disposal leaves them as published.
_KEPT = (
    "record_pk",
    "version",
    "status",
    "sha256",
    "signature",
    "kid",
    "issued_at",
    "received_at",
    "system_id",
    "audit_entry_id",
    "receipt",
)

_POSTGRESQL_DISPOSAL = """
CREATE FUNCTION exchange_record_version_disposal() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    expected record_version;
BEGIN
    expected := OLD;
    expected.canonical := ''::bytea;
    IF NEW IS NOT DISTINCT FROM expected AND EXISTS (
        SELECT 1 FROM record_disposal d
        WHERE d.record_pk = OLD.record_pk AND d.version = OLD.version
    ) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'record_version is append-only' USING ERRCODE = 'insufficient_privilege';
END $$
"""


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.add_column("record", sa.Column("retention_until", sa.Date, nullable=True))
    op.create_index("ix_record_retention_until", "record", ["retention_until"])
    op.create_table(
        "record_disposal",
        sa.Column("record_pk", sa.Integer, sa.ForeignKey("record.pk"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("disposed_at", TS, nullable=False),
        sa.Column("audit_entry_id", sa.String(36), nullable=False),
    )
    op.create_table(
        "legal_hold",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("record_pk", sa.Integer, sa.ForeignKey("record.pk"), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("approved_by", sa.String(200), nullable=True),
        sa.Column("approved_at", TS, nullable=True),
        sa.Column("lifted_by", sa.String(200), nullable=True),
        sa.Column("lifted_at", TS, nullable=True),
        sa.Column("lift_reason", sa.Text, nullable=True),
    )
    op.create_index("ix_legal_hold_record", "legal_hold", ["record_pk"])
    _fill(op.get_bind())
    if dialect == "postgresql":
        op.execute(
            "CREATE TRIGGER record_disposal_append_only BEFORE UPDATE OR DELETE ON "
            "record_disposal FOR EACH ROW EXECUTE FUNCTION exchange_append_only()"
        )
        op.execute(
            "CREATE TRIGGER record_disposal_no_truncate BEFORE TRUNCATE ON record_disposal "
            "FOR EACH STATEMENT EXECUTE FUNCTION exchange_append_only()"
        )
        op.execute("DROP TRIGGER record_version_append_only ON record_version")
        op.execute(
            "CREATE TRIGGER record_version_append_only BEFORE DELETE ON record_version "
            "FOR EACH ROW EXECUTE FUNCTION exchange_append_only()"
        )
        op.execute(_POSTGRESQL_DISPOSAL)
        op.execute(
            "CREATE TRIGGER record_version_disposal BEFORE UPDATE ON record_version "
            "FOR EACH ROW EXECUTE FUNCTION exchange_record_version_disposal()"
        )
        return
    for event in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER record_disposal_no_{event.lower()} BEFORE {event} ON "
            "record_disposal BEGIN SELECT RAISE(ABORT, 'record_disposal is append-only'); END"
        )
    unchanged = " AND ".join(f"NEW.{column} IS OLD.{column}" for column in _KEPT)
    op.execute("DROP TRIGGER record_version_no_update")
    op.execute(
        "CREATE TRIGGER record_version_no_update BEFORE UPDATE ON record_version "  # noqa: S608
        f"WHEN NOT (NEW.canonical = X'' AND {unchanged} AND EXISTS ("
        "SELECT 1 FROM record_disposal d "
        "WHERE d.record_pk = OLD.record_pk AND d.version = OLD.version)) "
        "BEGIN SELECT RAISE(ABORT, 'record_version is append-only'); END"
    )


def _fill(connection: sa.Connection) -> None:
    record = sa.table(
        "record",
        sa.column("pk", sa.Integer),
        sa.column("version", sa.Integer),
        sa.column("retention_until", sa.Date),
    )
    version = sa.table(
        "record_version",
        sa.column("record_pk", sa.Integer),
        sa.column("version", sa.Integer),
        sa.column("canonical", sa.LargeBinary),
    )
    after = 0
    while True:
        rows = connection.execute(
            sa.select(record.c.pk, version.c.canonical)
            .join(
                version,
                sa.and_(version.c.record_pk == record.c.pk, version.c.version == record.c.version),
            )
            .where(record.c.pk > after)
            .order_by(record.c.pk)
            .limit(_CHUNK)
        ).all()
        if not rows:
            return
        dates = []
        for pk, canonical in rows:
            until = json.loads(bytes(canonical))["handling"].get("retention_until")
            if until:
                dates.append({"key": pk, "until": date.fromisoformat(until)})
        if dates:
            connection.execute(
                record.update()
                .where(record.c.pk == sa.bindparam("key"))
                .values(retention_until=sa.bindparam("until")),
                dates,
            )
        after = rows[-1][0]


def downgrade() -> None:
    # Disposals and holds are records of what was done to evidence: no migration removes them.
    raise RuntimeError("The retention schema cannot be downgraded.")
