"""Reading and writing record rows in bulk, for the publish path.

A batch of a hundred records costs a handful of statements, not a few per record: the
current state of every record the batch names is read in one query, and the new rows are
written with one multi-row statement per table at the end.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.engine import Connection

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

# Built once: SQLAlchemy caches their compiled forms.
_FIND_RECORDS = select(
    _record.c.pk,
    _record.c.id,
    _record.c.publisher,
    _record.c.type,
    _record.c.version,
    _record.c.status,
).where(_record.c.id.in_(bindparam("ids", expanding=True)))
_FIND_VERSION = select(_version.c.sha256, _version.c.receipt).where(
    _version.c.record_pk == bindparam("record_pk"), _version.c.version == bindparam("version")
)
# Rows come back in any order, each with its id: one multi-row statement, not one per row.
_INSERT_RECORD = insert(_record).returning(_record.c.pk, _record.c.id)
_UPDATE_RECORD = _record.update().where(_record.c.pk == bindparam("record_pk"))
_INDEX_TABLES = (_audience, _card, _gram, _tag)

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
        rows = connection.execute(_FIND_RECORDS, {"ids": chunk})
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
            for pk, record_id in connection.execute(_INSERT_RECORD, values):
                states[record_id].pk = pk
        if existing:
            connection.execute(
                _UPDATE_RECORD,
                [{"record_pk": s.pk, **_updatable(self.records[s.id])} for s in existing],
            )
            # The names may have changed: the index rows follow them (the trigram index
            # follows the record row by itself).
            pks = [s.pk for s in existing]
            for table in _INDEX_TABLES:
                connection.execute(table.delete().where(table.c.record_pk.in_(pks)))
        pk_of = {record_id: states[record_id].pk for record_id in self.records}
        index_rows = (
            (
                _audience,
                [
                    {"record_pk": pk_of[record_id], "agency_id": agency}
                    for record_id, audience in self.audiences.items()
                    for agency in audience or ()
                ],
            ),
            (
                _card,
                [
                    {"record_pk": pk_of[record_id], "token": token}
                    for record_id, tokens in self.cards.items()
                    for token in tokens
                ],
            ),
            (
                _tag,
                [
                    {"kind": kind, "value": value, "record_pk": pk_of[record_id]}
                    for record_id, tags in self.tags.items()
                    for kind, value in tags
                ],
            ),
            (
                _gram,
                [
                    {"gram": gram, "record_pk": pk_of[record_id]}
                    for record_id, grams in self.grams.items()
                    for gram in grams
                ],
            ),
            (
                _version,
                [{"record_pk": pk_of[record_id], **row} for record_id, row in self.versions],
            ),
        )
        # Many rows, one statement each (SQLAlchemy's insertmanyvalues).
        for table, rows in index_rows:
            if rows:
                connection.execute(insert(table), rows)


def _updatable(projection: dict[str, Any]) -> dict[str, Any]:
    # The first reception of an existing record is history, not state.
    return {k: v for k, v in projection.items() if k != "first_received_at"}
