"""Reading and writing record rows in bulk, for the publish path.

A batch of a hundred records costs a handful of statements, not a few per record: the
current state of every record the batch names is read in one query, and the new rows are
written with one multi-row statement per table at the end.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from exchange.driverstatements import DriverStatement, on_driver
from exchange.records.models import (
    Record,
    RecordAudience,
    RecordCard,
    RecordGram,
    RecordTag,
    RecordVersion,
)
from exchange.records.textsearch import short_grams

_record = Record.__table__
_version = RecordVersion.__table__
_audience = RecordAudience.__table__
_card = RecordCard.__table__
_gram = RecordGram.__table__
_tag = RecordTag.__table__

# Built once, compiled once: every publish runs them.
_RECORD_STATE = select(
    _record.c.pk,
    _record.c.id,
    _record.c.publisher,
    _record.c.type,
    _record.c.version,
    _record.c.status,
)
_FIND_RECORDS = _RECORD_STATE.where(_record.c.id.in_(bindparam("ids", expanding=True)))
# One record (the common single publish) without an expanding IN, which is re-rendered
# on every execution.
_FIND_ONE_RECORD = DriverStatement(_RECORD_STATE.where(_record.c.id == bindparam("id")))
_FIND_VERSION = select(_version.c.sha256, _version.c.receipt).where(
    _version.c.record_pk == bindparam("record_pk"), _version.c.version == bindparam("version")
)
# Rows come back in any order, each with its id: one multi-row statement, not one per row.
_INSERT_RECORD = _record.insert().returning(_record.c.pk, _record.c.id)
_UPDATE_RECORD = _record.update().where(_record.c.pk == bindparam("record_pk"))
_DELETE_AUDIENCE = _audience.delete().where(_audience.c.record_pk == bindparam("record_pk"))
_DELETE_CARDS = _card.delete().where(_card.c.record_pk == bindparam("record_pk"))
_DELETE_GRAMS = _gram.delete().where(_gram.c.record_pk == bindparam("record_pk"))
_DELETE_TAGS = _tag.delete().where(_tag.c.record_pk == bindparam("record_pk"))
_RECORD_COLUMNS = (
    "id",
    "publisher",
    "type",
    "version",
    "status",
    "issued_at",
    "first_received_at",
    "updated_at",
    "prefecture",
    "category",
    "countries",
    "names",
    "audience_restricted",
)
_INSERT_ONE_RECORD = DriverStatement(_INSERT_RECORD, column_keys=_RECORD_COLUMNS)
_INSERT_VERSION = DriverStatement(
    _version.insert(),
    column_keys=(
        "record_pk",
        "version",
        "status",
        "canonical",
        "sha256",
        "signature",
        "kid",
        "issued_at",
        "received_at",
        "system_id",
        "audit_entry_id",
        "receipt",
    ),
)


@dataclass(frozen=True)
class _IndexRows:
    """The insert of a record's index rows (audience, cards, tags, grams), for many records.

    A record has dozens of grams and tags, so these rows go straight to the driver:
    SQLAlchemy's per-row parameter handling would double their cost inside the write lock.
    SQLite's executemany is a loop in C; PostgreSQL's sends one statement per row, so there
    the rows go as one array per column through a single ``unnest``.
    """

    sqlite: str
    postgresql: str

    def insert(self, connection: Connection, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if connection.dialect.name == "postgresql":
            columns = tuple(list(column) for column in zip(*rows, strict=True))
            with on_driver(connection, self.postgresql, columns, writes=True) as driver:
                driver.execute(self.postgresql, columns)
        else:
            with on_driver(connection, self.sqlite, rows, writes=True) as driver:
                driver.executemany(self.sqlite, rows)


_AUDIENCE_ROWS = _IndexRows(
    "INSERT INTO record_audience (record_pk, agency_id) VALUES (?, ?)",
    "INSERT INTO record_audience (record_pk, agency_id) "
    "SELECT * FROM unnest(%s::integer[], %s::text[])",
)
_CARD_ROWS = _IndexRows(
    "INSERT INTO record_card (record_pk, token) VALUES (?, ?)",
    "INSERT INTO record_card (record_pk, token) SELECT * FROM unnest(%s::integer[], %s::text[])",
)
_TAG_ROWS = _IndexRows(
    "INSERT INTO record_tag (kind, value, record_pk) VALUES (?, ?, ?)",
    "INSERT INTO record_tag (kind, value, record_pk) "
    "SELECT * FROM unnest(%s::text[], %s::text[], %s::integer[])",
)
_GRAM_ROWS = _IndexRows(
    "INSERT INTO record_gram (gram, record_pk) VALUES (?, ?)",
    "INSERT INTO record_gram (gram, record_pk) SELECT * FROM unnest(%s::text[], %s::integer[])",
)

# SQLite allows 32,766 bound parameters per statement; stay far below.
_CHUNK = 500


@dataclass
class RecordState:
    """What the publish checks need to know of a record, stored or pending."""

    id: str
    publisher: str
    type: str
    version: int
    status: str
    pk: int | None = None
    # Versions written earlier in the same request: version -> (sha256, receipt).
    pending: dict[int, tuple[str, str]] = field(default_factory=dict)


def load_states(connection: Connection, ids: Iterable[str]) -> dict[str, RecordState]:
    unique = list(dict.fromkeys(ids))
    states: dict[str, RecordState] = {}
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        rows = (
            _FIND_ONE_RECORD.rows(connection, {"id": chunk[0]})
            if len(chunk) == 1
            else connection.execute(_FIND_RECORDS, {"ids": chunk})
        )
        for pk, record_id, publisher, record_type, version, status in rows:
            states[record_id] = RecordState(
                id=record_id,
                publisher=publisher,
                type=record_type,
                version=version,
                status=status,
                pk=pk,
            )
    return states


def stored_version(connection: Connection, state: RecordState, version: int) -> tuple[str, str]:
    """(sha256, receipt) of an earlier version, pending in this request or stored."""
    if version in state.pending:
        return state.pending[version]
    row = connection.execute(_FIND_VERSION, {"record_pk": state.pk, "version": version}).one()
    return row.sha256, row.receipt


@dataclass
class PendingWrites:
    """Rows a request will write, gathered while its submissions are checked."""

    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    audiences: dict[str, Sequence[str] | None] = field(default_factory=dict)
    cards: dict[str, Sequence[str]] = field(default_factory=dict)
    grams: dict[str, list[str]] = field(default_factory=dict)
    tags: dict[str, Sequence[tuple[str, str]]] = field(default_factory=dict)
    versions: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def add(
        self,
        *,
        state: RecordState,
        projection: dict[str, Any],
        audience: Sequence[str] | None,
        version_row: dict[str, Any],
        cards: Sequence[str] = (),
        tags: Sequence[tuple[str, str]] = (),
    ) -> None:
        # A record named twice in a batch ends with the projection of its last version.
        self.records[state.id] = projection
        self.audiences[state.id] = audience
        self.cards[state.id] = cards
        self.tags[state.id] = tags
        # Computed now, while submissions are checked, not while the write lock is held.
        self.grams[state.id] = short_grams(projection["names"])
        self.versions.append((state.id, version_row))

    def write(self, connection: Connection, states: dict[str, RecordState]) -> None:
        if not self.versions:
            return
        new = [states[i] for i in self.records if states[i].pk is None]
        existing = [states[i] for i in self.records if states[i].pk is not None]
        if new:
            values = [
                {"id": s.id, "publisher": s.publisher, "type": s.type, **self.records[s.id]}
                for s in new
            ]
            rows = (
                _INSERT_ONE_RECORD.rows(connection, values[0])
                if len(values) == 1
                else connection.execute(_INSERT_RECORD, values)
            )
            for pk, record_id in rows:
                states[record_id].pk = pk
        if existing:
            connection.execute(
                _UPDATE_RECORD,
                [{"record_pk": s.pk, **_updatable(self.records[s.id])} for s in existing],
            )
            connection.execute(_DELETE_AUDIENCE, [{"record_pk": s.pk} for s in existing])
            connection.execute(_DELETE_CARDS, [{"record_pk": s.pk} for s in existing])
            # The names may have changed: the short grams follow them (the trigram index
            # follows the record row by itself).
            connection.execute(_DELETE_GRAMS, [{"record_pk": s.pk} for s in existing])
            connection.execute(_DELETE_TAGS, [{"record_pk": s.pk} for s in existing])
        _AUDIENCE_ROWS.insert(
            connection,
            [
                (states[record_id].pk, agency)
                for record_id, audience in self.audiences.items()
                for agency in audience or ()
            ],
        )
        _CARD_ROWS.insert(
            connection,
            [
                (states[record_id].pk, token)
                for record_id, tokens in self.cards.items()
                for token in tokens
            ],
        )
        _TAG_ROWS.insert(
            connection,
            [
                (kind, value, states[record_id].pk)
                for record_id, tags in self.tags.items()
                for kind, value in tags
            ],
        )
        _GRAM_ROWS.insert(
            connection,
            [
                (gram, states[record_id].pk)
                for record_id, grams in self.grams.items()
                for gram in grams
            ],
        )
        _INSERT_VERSION.many(
            connection,
            [{"record_pk": states[record_id].pk, **row} for record_id, row in self.versions],
        )


def _updatable(projection: dict[str, Any]) -> dict[str, Any]:
    # The first reception of an existing record is history, not state.
    return {k: v for k, v in projection.items() if k != "first_received_at"}
