"""What a published record must cost beyond the bare endpoint, each piece alone.

The bare endpoint does the irreducible part of a publish: parse, RFC 8785, the signature
check, one record and one audit insert, the commit. A record the exchange accepts must also
be checked against its schema, get a signed receipt (DESIGN §3), stay findable (search
fields, tags, short grams, the trigram index) and keep its version. Each of those is timed
here on its own, in CPU time per record, with nothing around it: no framework, and the rows
written by raw sqlite3 into a scratch file with the exchange's own table definitions.

Added to the bare endpoint's CPU per record from the same run, they give the most records
per second this machine's cores could publish with every core busy, perfect parallelism and
no overhead of any kind: a ceiling that no implementation of the design reaches here.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from benchmarks.envelopes import EnvelopeMaker
from benchmarks.instance import Instance
from exchange.clock import uuid7
from exchange.records.tags import record_tags
from exchange.records.textsearch import folded_names, short_grams
from keys.jcs import canonicalize
from keys.jws import sign_compact
from schemas import RECEIPT_SIGNATURE_TYPE, search_fields, validate_envelope

# The tables a publish writes besides the record row, as the migrations define them.
_TABLES = ("record_version", "record_gram", "record_tag", "record_fts")
_BATCH = 100


def _cpu_per_record(count: int, work: Callable[[], None]) -> float:
    started = time.thread_time()
    work()
    return (time.thread_time() - started) / count


def _scratch_schema(instance: Instance, path: Path) -> sqlite3.Connection:
    """A SQLite file holding empty copies of the publish's extra tables and their indexes."""
    definitions = _definitions(instance)
    scratch = sqlite3.connect(path, isolation_level=None)
    scratch.execute("PRAGMA journal_mode=WAL")
    scratch.execute("PRAGMA synchronous=NORMAL")
    for statement in definitions:
        scratch.execute(statement)
    return scratch


def _definitions(instance: Instance) -> list[str]:
    if instance.dialect == "sqlite":
        return _read_definitions(instance.sqlite_path)
    # A PostgreSQL instance has the same tables in its own dialect: the SQLite forms are
    # read from an embedded instance made for the purpose.
    from benchmarks.instance import create_instance

    with tempfile.TemporaryDirectory(prefix="exchange-required-") as folder:
        return _read_definitions(create_instance(Path(folder), None).sqlite_path)


def _read_definitions(path: Path) -> list[str]:
    source = sqlite3.connect(path)
    try:
        marks = ",".join("?" * len(_TABLES))
        rows = source.execute(
            f"SELECT sql FROM sqlite_master WHERE tbl_name IN ({marks}) "
            "AND type IN ('table', 'index') AND sql IS NOT NULL ORDER BY type DESC",
            _TABLES,
        ).fetchall()
    finally:
        source.close()
    return [sql for (sql,) in rows]


def required_work(instance: Instance, maker: EnvelopeMaker, count: int) -> list[tuple[str, float]]:
    """Each piece of required work beyond the bare endpoint: (what, CPU seconds per record)."""
    submissions = [maker.submission() for _ in range(count)]
    envelopes = [submission["record"] for submission in submissions]
    pieces: list[tuple[str, float]] = []

    def validate() -> None:
        for envelope in envelopes:
            validate_envelope(envelope)

    pieces.append(("schema validation", _cpu_per_record(count, validate)))

    key = Ed25519PrivateKey.generate()
    receipts: list[str] = []

    def sign_receipts() -> None:
        leaf = base64.b64encode(hashlib.sha256(b"leaf").digest()).decode("ascii")
        for envelope in envelopes:
            claims = {
                "id": envelope["id"],
                "version": envelope["version"],
                "sha256": hashlib.sha256(canonicalize(envelope)).hexdigest(),
                "received_at": "2026-11-25T09:00:00.000Z",
                "audit_entry": uuid7(),
                "audit_leaf": leaf,
                "iss": "exchange.example",
            }
            receipts.append(
                sign_compact(
                    canonicalize(claims), key=key, kid="k" * 43, typ=RECEIPT_SIGNATURE_TYPE
                )
            )

    pieces.append(("receipt (RFC 8785 claims, Ed25519 JWS)", _cpu_per_record(count, sign_receipts)))

    projected: list[tuple[str, list[tuple[str, str]], list[str]]] = []

    def project() -> None:
        for envelope in envelopes:
            fields = search_fields(envelope)
            names = folded_names(fields.names)
            projected.append((names, record_tags(envelope, fields), short_grams(names)))

    pieces.append(("search fields, folded names, tags, grams", _cpu_per_record(count, project)))

    with tempfile.TemporaryDirectory(prefix="exchange-required-") as folder:
        scratch = _scratch_schema(instance, Path(folder) / "scratch.db")
        try:
            pieces.append(
                (
                    "version, tag, gram and trigram rows (raw sqlite3)",
                    _cpu_per_record(
                        count, lambda: _write_rows(scratch, submissions, projected, receipts)
                    ),
                )
            )
        finally:
            scratch.close()
    return pieces


def _write_rows(
    scratch: sqlite3.Connection,
    submissions: list[dict[str, Any]],
    projected: list[tuple[str, list[tuple[str, str]], list[str]]],
    receipts: list[str],
) -> None:
    """The rows of each batch of 100, one statement per table and one commit, as a publish."""
    for start in range(0, len(submissions), _BATCH):
        versions: list[tuple[Any, ...]] = []
        tags: list[tuple[str, str, int]] = []
        grams: list[tuple[str, int]] = []
        names: list[tuple[int, str]] = []
        for offset in range(start, min(start + _BATCH, len(submissions))):
            pk = offset + 1
            envelope = submissions[offset]["record"]
            canonical = canonicalize(envelope)
            record_names, record_tag_rows, record_grams = projected[offset]
            versions.append(
                (
                    pk,
                    envelope["version"],
                    envelope["status"],
                    canonical,
                    hashlib.sha256(canonical).hexdigest(),
                    submissions[offset]["signature"],
                    "k" * 43,
                    "2026-11-25 09:00:00.000000",
                    "2026-11-25 09:00:00.000000",
                    1,
                    uuid7(),
                    receipts[offset],
                )
            )
            tags += [(kind, value, pk) for kind, value in record_tag_rows]
            grams += [(gram, pk) for gram in record_grams]
            names.append((pk, record_names))
        scratch.execute("BEGIN IMMEDIATE")
        scratch.executemany(
            "INSERT INTO record_version VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", versions
        )
        scratch.executemany("INSERT INTO record_tag VALUES (?, ?, ?)", tags)
        scratch.executemany("INSERT INTO record_gram VALUES (?, ?)", grams)
        scratch.executemany("INSERT INTO record_fts (rowid, names) VALUES (?, ?)", names)
        scratch.execute("COMMIT")


def ceiling(bare_cpu_per_record: float, required: list[tuple[str, float]]) -> float:
    """Records per second with every core busy on nothing but the necessary work."""
    per_record = bare_cpu_per_record + sum(seconds for _, seconds in required)
    return (os.cpu_count() or 1) / per_record
