"""Record tags: allegations, programmes, corporate and licence numbers, indexed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

import json

import sqlalchemy as sa
from alembic import op

from exchange.records.tags import record_tags
from schemas import search_fields

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_CHUNK = 2000


def upgrade() -> None:
    op.create_table(
        "record_tag",
        sa.Column("kind", sa.String(24), primary_key=True),
        sa.Column("value", sa.String(80), primary_key=True),
        sa.Column("record_pk", sa.Integer, primary_key=True, autoincrement=False),
    )
    op.create_index("ix_record_tag_record", "record_tag", ["record_pk"])
    _fill(op.get_bind())


def _fill(connection: sa.Connection) -> None:
    record = sa.table("record", sa.column("pk", sa.Integer), sa.column("version", sa.Integer))
    version = sa.table(
        "record_version",
        sa.column("record_pk", sa.Integer),
        sa.column("version", sa.Integer),
        sa.column("canonical", sa.LargeBinary),
    )
    tag = sa.table(
        "record_tag", sa.column("kind"), sa.column("value"), sa.column("record_pk", sa.Integer)
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
        tags = []
        for pk, canonical in rows:
            envelope = json.loads(bytes(canonical))
            tags += [
                {"kind": kind, "value": value, "record_pk": pk}
                for kind, value in record_tags(envelope, search_fields(envelope))
            ]
        if tags:
            connection.execute(tag.insert(), tags)
        after = rows[-1][0]


def downgrade() -> None:
    op.drop_index("ix_record_tag_record", table_name="record_tag")
    op.drop_table("record_tag")
