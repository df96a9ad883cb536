"""Free-text search over records' names and aliases.

Names are folded again with the accent and kana folding of ``exchange.records.normalize``
(folding a folded name gives what folding the original gives), then indexed as
``exchange.records.textsearch`` describes: a trigram index (FTS5 on SQLite, pg_trgm on
PostgreSQL) and the ``record_gram`` table of short grams.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from exchange.records.normalize import fold
from exchange.records.textsearch import TRIGRAM_TEXT_FUNCTION, short_grams

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_CHUNK = 5000

# SQLite FTS5 §4.4.3: an external-content table kept in step with its content table by
# triggers, so every writer of ``record`` (the publish path, bulk loads) updates it.
_SQLITE_TRIGGERS = (
    """CREATE TRIGGER record_fts_insert AFTER INSERT ON record BEGIN
        INSERT INTO record_fts (rowid, names) VALUES (new.pk, new.names);
    END""",
    """CREATE TRIGGER record_fts_update AFTER UPDATE OF names ON record
    WHEN old.names IS NOT new.names BEGIN
        INSERT INTO record_fts (record_fts, rowid, names) VALUES ('delete', old.pk, old.names);
        INSERT INTO record_fts (rowid, names) VALUES (new.pk, new.names);
    END""",
    """CREATE TRIGGER record_fts_delete AFTER DELETE ON record BEGIN
        INSERT INTO record_fts (record_fts, rowid, names) VALUES ('delete', old.pk, old.names);
    END""",
)


def _refold_and_fill_grams(connection: sa.Connection) -> None:
    record = sa.table("record", sa.column("pk", sa.Integer), sa.column("names", sa.Text))
    gram = sa.table("record_gram", sa.column("gram", sa.String), sa.column("record_pk"))
    after = 0
    while True:
        rows = connection.execute(
            sa.select(record.c.pk, record.c.names)
            .where(record.c.pk > after)
            .order_by(record.c.pk)
            .limit(_CHUNK)
        ).all()
        if not rows:
            return
        changed, grams = [], []
        for pk, names in rows:
            refolded = "\n".join(dict.fromkeys(f for f in map(fold, names.split("\n")) if f))
            if refolded != names:
                changed.append({"key": pk, "refolded": refolded})
            grams += [{"gram": g, "record_pk": pk} for g in short_grams(refolded)]
        if changed:
            connection.execute(
                record.update()
                .where(record.c.pk == sa.bindparam("key"))
                .values(names=sa.bindparam("refolded")),
                changed,
            )
        if grams:
            connection.execute(gram.insert(), grams)
        after = rows[-1][0]


def _trgm_schema(connection: sa.Connection) -> str:
    """The schema pg_trgm is in, installing it if needed.

    It goes to ``public`` where that exists, as PostgreSQL's default would put it: an
    exchange living in a schema of its own (benchmarks, isolated tests) must not take the
    extension with it when that schema is dropped while another exchange's index uses it.
    """
    schema = connection.scalar(
        sa.text(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = 'pg_trgm'"
        )
    )
    if schema is None:
        schema = connection.scalar(
            sa.text(
                "SELECT coalesce((SELECT nspname FROM pg_namespace WHERE nspname = 'public'), "
                "current_schema())"
            )
        )
        op.execute(f'CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA "{schema}"')
    return str(schema)


def upgrade() -> None:
    connection = op.get_bind()
    op.create_table(
        "record_gram",
        sa.Column("gram", sa.String(2), primary_key=True),
        sa.Column("record_pk", sa.Integer, primary_key=True, autoincrement=False),
        sqlite_with_rowid=False,
    )
    _refold_and_fill_grams(connection)
    if connection.dialect.name == "postgresql":
        schema = _trgm_schema(connection)
        op.execute(TRIGRAM_TEXT_FUNCTION)
        op.execute(
            "ALTER TABLE record ADD COLUMN trigram_names text "
            "GENERATED ALWAYS AS (exchange_trigram_text(names)) STORED"
        )
        op.execute(
            "CREATE INDEX ix_record_trigram_names ON record "
            f'USING gin (trigram_names "{schema}".gin_trgm_ops)'
        )
        return
    op.execute(
        "CREATE VIRTUAL TABLE record_fts USING fts5("
        "names, content='record', content_rowid='pk', tokenize='trigram')"
    )
    op.execute("INSERT INTO record_fts (record_fts) VALUES ('rebuild')")
    for trigger in _SQLITE_TRIGGERS:
        op.execute(trigger)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_record_trigram_names")
        op.execute("ALTER TABLE record DROP COLUMN trigram_names")
        op.execute("DROP FUNCTION exchange_trigram_text(text)")
    else:
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER record_fts_{name}")
        op.execute("DROP TABLE record_fts")
    op.drop_table("record_gram")
