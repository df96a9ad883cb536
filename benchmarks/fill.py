"""Filling the store with published records by bulk SQL, fast, in the exchange's own tables.

Each filled record looks like one published singly through the API: a ``record`` row with
its search projection, a ``record_version`` with real RFC 8785 envelope bytes, their
SHA-256 and the kid of the publisher's registered key, and one ``audit_entry`` of action
``record.publish`` with its canonical document (the integrator gives it its leaf when the
exchange next runs). Ids are distinct
UUIDv7s. Envelopes come from a few hundred signed templates whose id is replaced (same
length, so the bytes stay canonical); signature and receipt are the template's, so they
have the real sizes but do not verify for the new id.

The free-text index is kept as publishing keeps it: the short grams of each record's names
are written beside it, and the trigram index follows the ``record`` rows by itself. A
``names`` function may give each record names of its own instead of its template's
(the search measurement wants a realistic spread of names, not a few hundred).

SQLite gets ``executemany`` in large transactions on one connection; PostgreSQL gets
``COPY ... FROM STDIN``, its bulk-insert path, then ``setval`` for the serial columns and
``ANALYZE``, as autovacuum would after a large load. The server must be stopped meanwhile.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.envelopes import EnvelopeMaker
from benchmarks.instance import Caller, Instance
from exchange.auth.actor import Actor
from exchange.clock import parse_rfc3339, rfc3339
from exchange.extensions import db
from exchange.records.service import sign_receipt
from exchange.records.textsearch import folded_names, short_grams
from exchange.trail.entries import entry_document
from keys.jcs import canonicalize
from schemas import search_fields

TEMPLATES = 256
TRANSACTION_ROWS = 25_000
# Placeholders as long as the values that replace them: a UUID, an RFC 3339 time.
_ENTRY_MARK = "e" * 8 + "-0000-7000-8000-" + "e" * 12
_RECORD_MARK = "r" * 8 + "-0000-7000-8000-" + "r" * 12
_TIME_MARK = "@time@"

RECORD_COLUMNS = (
    "pk, id, type, publisher, version, status, issued_at, first_received_at, updated_at, "
    "prefecture, category, countries, names, audience_restricted"
)
VERSION_COLUMNS = (
    "record_pk, version, status, canonical, sha256, signature, kid, issued_at, received_at, "
    "system_id, audit_entry_id, receipt"
)
ENTRY_COLUMNS = "seq, id, canonical"
GRAM_COLUMNS = "gram, record_pk"


@dataclass(frozen=True)
class Template:
    """A signed envelope split around its id, with what the record row projects."""

    before_id: bytes
    after_id: bytes
    record_type: str
    status: str
    issued_at: str
    signature: str
    receipt: str
    prefecture: str | None
    category: str | None
    countries: str
    names: str


@dataclass(frozen=True)
class FillResult:
    records: int
    seconds: float
    store_records: int

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


def _database_time(moment: datetime) -> str:
    """How SQLAlchemy stores a UTC datetime on SQLite (and a literal PostgreSQL reads)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _templates(caller: Caller, app_context: Any) -> list[Template]:
    maker = EnvelopeMaker(caller, seed=0xF111)
    templates: list[Template] = []
    with app_context:
        while len(templates) < TEMPLATES:
            envelope = maker.envelope()
            envelope["handling"] = dict(envelope["handling"], audience=None)
            signature = maker.sign(envelope)
            canonical = canonicalize(envelope)
            parts = canonical.split(envelope["id"].encode())
            if len(parts) != 2:
                continue
            issued_at = parse_rfc3339(envelope["issued_at"])
            projection = search_fields(envelope)
            receipt = sign_receipt(
                {
                    "id": envelope["id"],
                    "version": 1,
                    "sha256": hashlib.sha256(canonical).hexdigest(),
                    "received_at": rfc3339(issued_at),
                    "audit_entry": envelope["id"],
                }
            )
            templates.append(
                Template(
                    before_id=parts[0],
                    after_id=parts[1],
                    record_type=envelope["type"],
                    status=envelope["status"],
                    issued_at=_database_time(issued_at),
                    signature=signature,
                    receipt=receipt,
                    prefecture=projection.prefecture,
                    category=projection.category,
                    countries="," + "".join(c + "," for c in projection.countries),
                    names=folded_names(projection.names),
                )
            )
    return templates


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
        pieces = self.pieces
        return b"".join(
            (
                pieces[0],
                values[self.order[0]],
                pieces[1],
                values[self.order[1]],
                pieces[2],
                values[self.order[2]],
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


@dataclass(frozen=True)
class _Batch:
    records: list[tuple[Any, ...]]
    versions: list[tuple[Any, ...]]
    entries: list[tuple[Any, ...]]
    grams: list[tuple[Any, ...]]


def _batches(
    *,
    count: int,
    first_pk: int,
    first_seq: int,
    templates: Sequence[Template],
    audit: _AuditTemplate,
    caller: Caller,
    actor: Actor,
    system_id: int,
    postgres: bool,
    names: Callable[[int, Template], str] | None,
) -> Iterator[_Batch]:
    # Received over the past days, oldest first, a few milliseconds apart.
    step = timedelta(milliseconds=5)
    start = datetime.now(UTC) - step * (count + 1000)
    suffix = "+00" if postgres else ""
    kid, publisher = caller.kid, caller.agency
    # Names repeat across records (every template's, and many generated ones).
    grams_of = functools.lru_cache(maxsize=65536)(short_grams)
    for offset in range(0, count, TRANSACTION_ROWS):
        batch = _Batch([], [], [], [])
        for index in range(offset, min(count, offset + TRANSACTION_ROWS)):
            template = templates[index % len(templates)]
            received = start + step * index
            millis = int(received.timestamp() * 1000)
            bits = int.from_bytes(os.urandom(20), "big")
            record_id = _uuid7(millis - 60_000, bits >> 80)
            entry_id = _uuid7(millis, bits & ((1 << 80) - 1))
            canonical = template.before_id + record_id.encode() + template.after_id
            received_text = _database_time(received) + suffix
            issued_text = template.issued_at + suffix
            pk, seq = first_pk + index, first_seq + index
            record_names = template.names if names is None else names(index, template)
            batch.grams.extend((gram, pk) for gram in grams_of(record_names))
            batch.records.append(
                (
                    pk,
                    record_id,
                    template.record_type,
                    publisher,
                    1,
                    template.status,
                    issued_text,
                    received_text,
                    received_text,
                    template.prefecture,
                    template.category,
                    template.countries,
                    record_names,
                    False,
                )
            )
            batch.versions.append(
                (
                    pk,
                    1,
                    template.status,
                    canonical,
                    hashlib.sha256(canonical).hexdigest(),
                    template.signature,
                    kid,
                    issued_text,
                    received_text,
                    system_id,
                    entry_id,
                    template.receipt,
                )
            )
            batch.entries.append(
                (seq, entry_id, audit.render(entry_id, record_id, rfc3339(received)))
            )
        yield batch


def _placeholders(columns: str, mark: str) -> str:
    return ", ".join([mark] * len(columns.split(",")))


def fill_store(
    instance: Instance,
    caller: Caller,
    count: int,
    names: Callable[[int, Template], str] | None = None,
) -> FillResult:
    """Add ``count`` published records (and their audit trail) to a stopped instance.

    ``names(index, template)``: the folded names of the index-th record, if not its
    template's.
    """
    app = instance.app()
    from sqlalchemy import text

    with app.app_context():
        fingerprint, system_id = db.session.execute(
            text(
                "SELECT c.fingerprint, s.id FROM certificate c JOIN system s "
                "ON s.id = c.system_id WHERE s.agency_id = :agency ORDER BY c.issued_at DESC"
            ),
            {"agency": caller.agency},
        ).one()
        first_pk = _scalar("SELECT COALESCE(MAX(pk), 0) FROM record") + 1
        first_seq = _scalar("SELECT COALESCE(MAX(seq), 0) FROM audit_entry") + 1
        existing = _scalar("SELECT COUNT(*) FROM record")
        db.session.remove()
        db.engine.dispose()
    actor = Actor(
        kind="system",
        agency_id=caller.agency,
        agency_kind=caller.kind,
        system_id=system_id,
        system_name="gateway",
        fingerprint=fingerprint,
        address="127.0.0.1",
    )
    templates = _templates(caller, app.app_context())
    batches = _batches(
        count=count,
        first_pk=first_pk,
        first_seq=first_seq,
        templates=templates,
        audit=_AuditTemplate(actor),
        caller=caller,
        actor=actor,
        system_id=system_id,
        postgres=instance.dialect == "postgresql",
        names=names,
    )
    started = time.perf_counter()
    if instance.dialect == "postgresql":
        _fill_postgres(instance, batches)
    else:
        _fill_sqlite(instance, batches)
    seconds = time.perf_counter() - started
    return FillResult(records=count, seconds=seconds, store_records=existing + count)


def _scalar(statement: str) -> int:
    from sqlalchemy import text

    return int(db.session.execute(text(statement)).scalar_one())


def _fill_sqlite(instance: Instance, batches: Iterator[_Batch]) -> None:
    connection = sqlite3.connect(str(instance.sqlite_path), isolation_level=None, timeout=60)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        # Durability of the bulk load itself does not matter: a crash means a new run.
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-262144")
        statements = [
            (f"INSERT INTO {table} ({columns}) VALUES ({_placeholders(columns, '?')})", name)
            for table, columns, name in (
                ("record", RECORD_COLUMNS, "records"),
                ("record_version", VERSION_COLUMNS, "versions"),
                ("audit_entry", ENTRY_COLUMNS, "entries"),
                ("record_gram", GRAM_COLUMNS, "grams"),
            )
        ]
        for batch in batches:
            connection.execute("BEGIN IMMEDIATE")
            for statement, name in statements:
                connection.executemany(statement, getattr(batch, name))
            connection.execute("COMMIT")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


def _fill_postgres(instance: Instance, batches: Iterator[_Batch]) -> None:
    with instance.connect_postgres() as connection:
        for batch in batches:
            with connection.cursor() as cursor:
                for table, columns, rows in (
                    ("record", RECORD_COLUMNS, batch.records),
                    ("record_version", VERSION_COLUMNS, batch.versions),
                    ("audit_entry", ENTRY_COLUMNS, batch.entries),
                    ("record_gram", GRAM_COLUMNS, batch.grams),
                ):
                    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
            connection.commit()
        for table, column in (("record", "pk"), ("audit_entry", "seq")):
            connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                f"(SELECT MAX({column}) FROM {table}))"
            )
        connection.commit()
        connection.autocommit = True
        for table in ("record", "record_version", "audit_entry", "record_gram"):
            connection.execute(f"ANALYZE {table}")
