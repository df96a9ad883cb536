"""TAXII gateway: systems' standing purpose, the feed's dates added, STIX ids as record tags.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

import json
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

from exchange.records.tags import STIX_ID
from exchange.taxii.stix import object_ids

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_CHUNK = 2000
_STEP = timedelta(microseconds=1)


def upgrade() -> None:
    op.add_column("system", sa.Column("standing_purpose", sa.String(32), nullable=True))
    # Set for every position by the integrator; nullable only because SQLite cannot add a
    # NOT NULL column to a table that has rows.
    op.add_column("record_feed", sa.Column("added_at", sa.DateTime(timezone=True), nullable=True))
    connection = op.get_bind()
    _with_feed_writable(connection, _fill_added_at)
    op.create_index("ix_record_feed_added_at", "record_feed", ["added_at"])
    _fill_stix_tags(connection)


def _with_feed_writable(connection: sa.Connection, fill: Callable[[sa.Connection], None]) -> None:
    """Run ``fill`` with record_feed's append-only triggers (0003) lifted, then restore them."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.text("ALTER TABLE record_feed DISABLE TRIGGER record_feed_append_only")
        )
        fill(connection)
        connection.execute(
            sa.text("ALTER TABLE record_feed ENABLE TRIGGER record_feed_append_only")
        )
        return
    connection.execute(sa.text("DROP TRIGGER record_feed_no_update"))
    fill(connection)
    connection.execute(
        sa.text(
            "CREATE TRIGGER record_feed_no_update BEFORE UPDATE ON record_feed "
            "BEGIN SELECT RAISE(ABORT, 'record_feed is append-only'); END"
        )
    )


def _fill_added_at(connection: sa.Connection) -> None:
    # The rule the integrator follows: the version's received_at, but strictly later than
    # the position before it, so that added_after never skips a late commit.
    feed = sa.table(
        "record_feed",
        sa.column("position", sa.BigInteger),
        sa.column("record_pk", sa.Integer),
        sa.column("version", sa.Integer),
        sa.column("added_at", sa.DateTime(timezone=True)),
    )
    version = sa.table(
        "record_version",
        sa.column("record_pk", sa.Integer),
        sa.column("version", sa.Integer),
        sa.column("received_at", sa.DateTime(timezone=True)),
    )
    after, last = 0, None
    while True:
        rows = connection.execute(
            sa.select(feed.c.position, version.c.received_at)
            .join(
                version,
                sa.and_(
                    version.c.record_pk == feed.c.record_pk, version.c.version == feed.c.version
                ),
            )
            .where(feed.c.position > after)
            .order_by(feed.c.position)
            .limit(_CHUNK)
        ).all()
        if not rows:
            return
        updates = []
        for position, received_at in rows:
            last = received_at if last is None or received_at > last else last + _STEP
            updates.append({"p": position, "added_at": last})
        connection.execute(
            feed.update().where(feed.c.position == sa.bindparam("p")),
            updates,
        )
        after = rows[-1][0]


def _fill_stix_tags(connection: sa.Connection) -> None:
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
    # Migration 0006 derives tags with today's code, so a database that ran it just now
    # already has these.
    connection.execute(tag.delete().where(tag.c.kind == STIX_ID))
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
        # A disposed record's bytes are gone (0008), and with them its search rows.
        tags = [
            {"kind": STIX_ID, "value": value, "record_pk": pk}
            for pk, canonical in rows
            if canonical
            for value in object_ids(json.loads(bytes(canonical)))
        ]
        if tags:
            connection.execute(tag.insert(), tags)
        after = rows[-1][0]


def downgrade() -> None:
    raise RuntimeError("The TAXII gateway's columns cannot be downgraded.")
