"""Filling the store with published records in bulk, every row a publish writes.

A few hundred signed envelopes are checked by the exchange's own publish checks
(``PublishBatch.check``: policy, version, signature, receipt, search projection, tags,
cards, audience), which gather the rows a publish writes without writing them. Each filled
record copies one of them under a new id, written by ``PendingWrites.write``, the very
statements a publish runs — ``record``, ``record_version``, ``record_audience``,
``record_card``, ``record_tag``, ``record_gram`` (and the trigram index, which follows the
record rows by itself) — plus the ``record.publish`` audit entry the request would have
added; the integrator gives it its leaf when the exchange next runs.

Ids are distinct UUIDv7s, received a few milliseconds apart over the past days. The new id
has the template's id's length, so the envelope bytes stay canonical; their SHA-256 is
computed again, but the signature and receipt stay the template's: they have the real
sizes and do not verify for the new id. A ``names`` function may give each record names of
its own (the search measurement wants a realistic spread of names, not a few hundred).

Many records go in one transaction, as multi-row inserts. The server must be stopped.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

from benchmarks.envelopes import EnvelopeMaker
from benchmarks.instance import Caller, Instance
from exchange.agencies.models import System
from exchange.agencies.policy import current_policy
from exchange.auth.actor import Actor
from exchange.clock import rfc3339
from exchange.extensions import db
from exchange.pki.models import Certificate
from exchange.records.models import Record
from exchange.records.service import PublishBatch, PublishContext
from exchange.records.signing import KeyCache
from exchange.records.store import PendingWrites, RecordState
from exchange.records.tags import record_tags
from exchange.trail.entries import entry_document
from exchange.trail.models import AuditEntry
from keys.jcs import canonicalize
from schemas import SearchFields, search_fields, validate_envelope

TEMPLATES = 256
TRANSACTION_RECORDS = 10_000
# Placeholders as long as the values that replace them: a UUID, an RFC 3339 time.
_ENTRY_MARK = "e" * 8 + "-0000-7000-8000-" + "e" * 12
_RECORD_MARK = "r" * 8 + "-0000-7000-8000-" + "r" * 12
_TIME_MARK = "@time@"
_FILLED_TABLES = (
    "record",
    "record_version",
    "record_audience",
    "record_card",
    "record_tag",
    "record_gram",
    "audit_entry",
)


@dataclass(frozen=True)
class Template:
    """A checked envelope split around its id, with the rows its publish would write."""

    before_id: bytes
    after_id: bytes
    record_type: str
    status: str
    projection: dict[str, Any]
    audience: Sequence[str] | None
    cards: Sequence[str]
    version_row: dict[str, Any]
    # Tags follow the record's id (the ids of its STIX objects): made again for each id.
    envelope: dict[str, Any]
    facts: SearchFields

    def tags(self, record_id: str) -> list[tuple[str, str]]:
        return record_tags({**self.envelope, "id": record_id}, self.facts)

    @property
    def countries(self) -> str:
        """The record row's ``countries``: codes between commas."""
        return str(self.projection["countries"])


@dataclass(frozen=True)
class FillResult:
    records: int
    seconds: float
    store_records: int

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


def _templates(caller: Caller, actor: Actor, connection: Connection) -> list[Template]:
    """Envelopes checked as a publish checks them; nothing is written."""
    maker = EnvelopeMaker(caller, seed=0xF111)
    batch = PublishBatch(
        context=PublishContext(
            actor=actor,
            received_at=datetime.now(UTC),
            audit_entry_id=_ENTRY_MARK,
            clock_skew=timedelta(minutes=5),
        ),
        policy=current_policy(),
        connection=connection,
        states={},
        keys=KeyCache(connection),
    )
    split: dict[str, tuple[bytes, bytes]] = {}
    envelopes: dict[str, dict[str, Any]] = {}
    while len(split) < TEMPLATES:
        envelope = validate_envelope(maker.envelope())
        parts = canonicalize(envelope).split(envelope["id"].encode())
        if len(parts) == 2:
            batch.check(envelope, maker.sign(envelope))
            split[envelope["id"]] = (parts[0], parts[1])
            envelopes[envelope["id"]] = envelope
    writes = batch.writes
    return [
        Template(
            before_id=split[record_id][0],
            after_id=split[record_id][1],
            record_type=batch.states[record_id].type,
            status=batch.states[record_id].status,
            projection=writes.records[record_id],
            audience=writes.audiences[record_id],
            cards=writes.cards[record_id],
            version_row=version_row,
            envelope=envelopes[record_id],
            facts=search_fields(envelopes[record_id]),
        )
        for record_id, version_row in writes.versions
    ]


class _AuditTemplate:
    """The canonical audit document of a single publish, with three holes."""

    def __init__(self, actor: Actor) -> None:
        document = entry_document(
            entry_id=_ENTRY_MARK,
            recorded_at=datetime(2000, 1, 1, tzinfo=UTC),
            actor=actor,
            action="record.publish",
            status=201,
            targets=[(_RECORD_MARK, 1)],
            purpose=None,
            details={},
            method="POST",
            path="/api/v1/records",
        )
        document["time"] = _TIME_MARK
        text = canonicalize(document)
        marks = sorted(
            (text.index(mark.encode()), mark.encode())
            for mark in (_ENTRY_MARK, _RECORD_MARK, _TIME_MARK)
        )
        self.order = [mark for _, mark in marks]
        self.pieces: list[bytes] = []
        position = 0
        for start, mark in marks:
            self.pieces.append(text[position:start])
            position = start + len(mark)
        self.pieces.append(text[position:])

    def render(self, entry_id: str, record_id: str, time_text: str) -> bytes:
        values = {
            _ENTRY_MARK.encode(): entry_id.encode(),
            _RECORD_MARK.encode(): record_id.encode(),
            _TIME_MARK.encode(): time_text.encode(),
        }
        pieces, order = self.pieces, self.order
        return b"".join(
            (
                pieces[0],
                values[order[0]],
                pieces[1],
                values[order[1]],
                pieces[2],
                values[order[2]],
                pieces[3],
            )
        )


def _uuid7(millis: int, random_bits: int) -> str:
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((random_bits >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= random_bits & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


@dataclass
class _Filler:
    templates: Sequence[Template]
    audit: _AuditTemplate
    publisher: str
    start: datetime
    names: Callable[[int, Template], str] | None

    # Received over the past days, oldest first, a few milliseconds apart.
    step = timedelta(milliseconds=5)

    def write(self, connection: Connection, first: int, last: int) -> None:
        """Records ``first`` to ``last`` (exclusive), as their publishes would write them."""
        writes = PendingWrites()
        states: dict[str, RecordState] = {}
        entries = []
        for index in range(first, last):
            template = self.templates[index % len(self.templates)]
            received = self.start + self.step * index
            millis = int(received.timestamp() * 1000)
            bits = int.from_bytes(os.urandom(20), "big")
            record_id = _uuid7(millis - 60_000, bits >> 80)
            entry_id = _uuid7(millis, bits & ((1 << 80) - 1))
            canonical = template.before_id + record_id.encode() + template.after_id
            projection = dict(template.projection, first_received_at=received, updated_at=received)
            if self.names is not None:
                projection["names"] = self.names(index, template)
            state = RecordState(
                id=record_id,
                publisher=self.publisher,
                type=template.record_type,
                version=1,
                status=template.status,
            )
            states[record_id] = state
            writes.add(
                state=state,
                projection=projection,
                audience=template.audience,
                cards=template.cards,
                tags=template.tags(record_id),
                version_row=dict(
                    template.version_row,
                    canonical=canonical,
                    sha256=hashlib.sha256(canonical).hexdigest(),
                    received_at=received,
                    audit_entry_id=entry_id,
                ),
            )
            entries.append(
                {
                    "id": entry_id,
                    "canonical": self.audit.render(entry_id, record_id, rfc3339(received)),
                }
            )
        writes.write(connection, states)
        connection.execute(insert(AuditEntry.__table__), entries)


def fill_store(
    instance: Instance,
    caller: Caller,
    count: int,
    names: Callable[[int, Template], str] | None = None,
) -> FillResult:
    """Add ``count`` published records (and their audit entries) to a stopped instance.

    ``names(index, template)``: the folded names of the index-th record, if not its
    template's.
    """
    app = instance.app()
    with app.app_context():
        fingerprint, system_id = db.session.execute(
            select(Certificate.fingerprint, System.id)
            .join(System, System.id == Certificate.system_id)
            .where(System.agency_id == caller.agency)
            .order_by(Certificate.issued_at.desc())
        ).first() or (None, None)
        actor = Actor(
            kind="system",
            agency_id=caller.agency,
            agency_kind=caller.kind,
            system_id=system_id,
            system_name="gateway",
            fingerprint=fingerprint,
            address="127.0.0.1",
        )
        existing = db.session.execute(select(func.count()).select_from(Record)).scalar_one()
        templates = _templates(caller, actor, db.session.connection())
        db.session.rollback()
        db.session.remove()
        filler = _Filler(
            templates=templates,
            audit=_AuditTemplate(actor),
            publisher=caller.agency,
            start=datetime.now(UTC) - _Filler.step * (count + 1000),
            names=names,
        )
        engine = db.engine
        started = time.perf_counter()
        sqlite = engine.dialect.name == "sqlite"
        with engine.connect() as connection:
            driver: Any = connection.connection.driver_connection
            if sqlite:
                # The load's own durability does not matter: a crash means a new run.
                driver.execute("PRAGMA synchronous=OFF")
            for first in range(0, count, TRANSACTION_RECORDS):
                with connection.begin():
                    filler.write(connection, first, min(count, first + TRANSACTION_RECORDS))
            if sqlite:
                driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            else:
                # As autovacuum would after a large load, before the planner meets it.
                for table in _FILLED_TABLES:
                    connection.exec_driver_sql(f"ANALYZE {table}")
                connection.commit()
        seconds = time.perf_counter() - started
        engine.dispose()
    return FillResult(records=count, seconds=seconds, store_records=existing + count)
