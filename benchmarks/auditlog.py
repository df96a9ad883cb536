"""The verifiable log's costs, each beside a bare figure from the same run.

- the audit write's share of a read request's server time (the request served in-process
  through the exchange's WSGI app; the entry's insert and the commit it forces timed
  inside it — auditing is never switched off);
- integration (leaf hashes, stored tree hashes, checkpoint) and full verification,
  against the bare rate of RFC 9162 leaf hashing over the same entry bytes;
- an inclusion proof from stored hashes in a tree of 10,000,000 leaves, against a bare
  primary-key fetch of the same number of rows.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from audit.note import NoteVerifier
from audit.tree import inclusion_plan, stored_count, stored_index
from benchmarks.servers import exchange_server
from exchange.auth.actor import Actor
from exchange.clock import utcnow, uuid7
from exchange.extensions import db
from exchange.pki.vault import load_vault
from exchange.trail import entries
from exchange.trail.full_verification import verify_log
from exchange.trail.integrator_process import build_integrator, log_origin
from exchange.trail.stored_tree import inclusion_proof

if TYPE_CHECKING:
    from benchmarks.harness import Bench, Row
    from benchmarks.instance import Instance


@contextmanager
def _timed(module: Any, name: str, spent: list[float]) -> Iterator[None]:
    """Wrap ``module.name`` so that every call adds its duration to ``spent``."""
    original = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - started)

    setattr(module, name, wrapper)
    try:
        yield
    finally:
        setattr(module, name, original)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure_audit_share(bench: Bench, requests: int) -> list[Row]:
    """Reads over real mTLS at concurrency 1; the audit write timed inside the server.

    The share is the write's mean duration over the server's CPU time per read (TLS,
    HTTP, application, database), both from the same load.
    """
    from benchmarks.harness import PURPOSE, RECORDS_PATH, Row
    from benchmarks.load import Request

    maker = bench.maker()
    stored = [maker.submission(open_audience=True) for _ in range(100)]
    seed = [Request("POST", RECORDS_PATH, json.dumps({"records": stored}).encode())]
    rng = random.Random(bench.options.seed)
    headers = (("Exchange-Purpose", PURPOSE),)
    ids = [submission["record"]["id"] for submission in stored]

    def reads(count: int) -> list[Request]:
        return [
            Request("GET", f"{RECORDS_PATH}/{rng.choice(ids)}", None, headers) for _ in range(count)
        ]

    timings = bench.root / "audit-timings.json"
    with exchange_server(
        bench.instance, threads=bench.options.threads, time_audit=timings
    ) as server:
        bench.load("audit share setup", server, seed, [], concurrency=1)
        result = bench.load(
            "read, audit write timed, c=1",
            server,
            reads(requests),
            reads(20),
            caller=bench.reader,
            expected=200,
            concurrency=1,
        )
    measured = json.loads(timings.read_text())
    writes = measured["writes"][-result.completed :]
    write_cpu = measured["write_cpu"][-result.completed :]
    request_wall = statistics.fmean(measured["requests"][-result.completed :])
    cpu_per_read = result.server_cpu_share * result.elapsed / result.completed
    write = statistics.fmean(writes)
    share = write / cpu_per_read
    cpu_share = statistics.fmean(write_cpu) / cpu_per_read
    bare = _bare_write_times(bench.instance, requests)
    return [
        Row(
            "audit",
            "write (entry, insert, commit): share of a read's server CPU, mTLS c=1",
            f"{share:.1%}",
            f"{cpu_per_read * 1e3:.2f} ms CPU per read",
            None,
            f"write {write * 1e3:.3f} ms (p95 {_percentile(writes, 0.95) * 1e3:.3f})",
            "",
            "< 10%",
            share < 0.10,
        ),
        Row(
            "audit",
            "  same, the exchange's own CPU in the write (serving thread's CPU time)",
            f"{cpu_share:.1%}",
            f"{statistics.fmean(write_cpu) * 1e3:.3f} ms CPU per write",
        ),
        Row(
            "audit",
            "  the write against a bare insert + commit of as many bytes (raw driver)",
            f"{write * 1e3:.3f} ms",
            f"{statistics.fmean(bare) * 1e3:.3f} ms bare",
            write / statistics.fmean(bare),
            f"{_percentile(writes, 0.5) * 1e3:.2f}/{_percentile(writes, 0.95) * 1e3:.2f}",
            f"{_percentile(bare, 0.5) * 1e3:.2f}/{_percentile(bare, 0.95) * 1e3:.2f}",
        ),
        Row(
            "audit",
            "  that bare insert + commit alone, as a share of the same read's server CPU",
            f"{statistics.fmean(bare) / cpu_per_read:.1%}",
            f"{cpu_per_read * 1e3:.2f} ms CPU per read",
        ),
        Row(
            "audit",
            "  the write's wall time as a share of the read's, both inside the application",
            f"{write / request_wall:.1%}",
            f"{request_wall * 1e3:.3f} ms per read; bare insert + commit "
            f"{statistics.fmean(bare) / request_wall:.1%}",
        ),
    ]


_BARE_WRITE_TABLE = {
    "sqlite": "CREATE TABLE bench_bare_entry (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
    "id VARCHAR(36) NOT NULL UNIQUE, canonical BLOB NOT NULL)",
    "postgresql": "CREATE TABLE bench_bare_entry (seq SERIAL PRIMARY KEY, "
    "id VARCHAR(36) NOT NULL UNIQUE, canonical BYTEA NOT NULL)",
}


def _bare_write_times(instance: Instance, count: int) -> list[float]:
    """An entry-sized insert and its commit, straight through the driver, each timed: what
    any durable write to this database costs, beside the exchange's audit write."""
    entries = list(_entries(count))
    times: list[float] = []
    with _bare_writer(instance) as write:
        for entry in entries:
            started = time.perf_counter()
            write(entry["id"], entry["canonical"])
            times.append(time.perf_counter() - started)
    return times


@contextmanager
def _bare_writer(instance: Instance) -> Iterator[Callable[[str, bytes], None]]:
    """A function that inserts one row into a scratch table and commits, for the block."""
    if instance.dialect == "sqlite":
        raw: Any = sqlite3.connect(instance.sqlite_path, isolation_level=None)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA synchronous=NORMAL")
        raw.execute(_BARE_WRITE_TABLE["sqlite"])

        def write_sqlite(entry_id: str, canonical: bytes) -> None:
            raw.execute("BEGIN IMMEDIATE")
            raw.execute(
                "INSERT INTO bench_bare_entry (id, canonical) VALUES (?, ?)",
                (entry_id, canonical),
            )
            raw.commit()

        try:
            yield write_sqlite
        finally:
            raw.execute("DROP TABLE bench_bare_entry")
            raw.close()
        return
    with instance.connect_postgres() as connection:
        connection.execute(_BARE_WRITE_TABLE["postgresql"])
        connection.commit()

        def write_postgres(entry_id: str, canonical: bytes) -> None:
            with connection.pipeline():
                connection.execute(
                    "INSERT INTO bench_bare_entry (id, canonical) VALUES (%s, %s)",
                    (entry_id, canonical),
                )
                connection.commit()

        try:
            yield write_postgres
        finally:
            connection.execute("DROP TABLE bench_bare_entry")
            connection.commit()


def _entries(count: int) -> Iterator[dict[str, Any]]:
    actor = Actor(
        kind="system",
        agency_id="bench-npa",
        system_name="gateway",
        fingerprint="ab" * 32,
        address="127.0.0.1",
    )
    now = utcnow()
    for _ in range(count):
        entry_id = uuid7()
        targets = [(str(uuid7()), 1)]
        canonical = entries.entry_bytes(
            entry_id=entry_id,
            recorded_at=now,
            actor=actor,
            action="record.read",
            status=200,
            targets=targets,
            purpose="investigation",
            method="GET",
            path=f"/api/v1/records/{targets[0][0]}",
        )
        yield {"id": entry_id, "canonical": canonical}


def integrate_backlog(instance: Instance) -> tuple[int, float]:
    """Integrate entries written by bulk SQL, as the exchange would on its next start."""
    app = instance.app()
    with app.app_context():
        started = time.perf_counter()
        result = build_integrator(app).integrate(checkpoint=True)
        seconds = time.perf_counter() - started
        db.session.remove()
        db.engine.dispose()
    return result.integrated, seconds


def _hash_rate(blobs: list[bytes]) -> float:
    """Bare RFC 9162 leaf hashing of the same bytes: the floor under integration."""
    sha256 = hashlib.sha256
    started = time.perf_counter()
    for blob in blobs:
        sha256(b"\x00" + blob).digest()
    return len(blobs) / (time.perf_counter() - started)


def measure_integration(bench: Bench, count: int) -> list[Row]:
    from benchmarks.harness import Row
    from exchange.trail.models import AuditEntry

    app = bench.instance.app()
    blobs: list[bytes] = []
    with app.app_context():
        build_integrator(app).integrate(checkpoint=True)
        insert = AuditEntry.__table__.insert()
        batch: list[dict[str, Any]] = []
        for row in _entries(count):
            blobs.append(row["canonical"])
            batch.append(row)
            if len(batch) == 10_000:
                db.session.execute(insert, batch)
                db.session.commit()
                batch = []
        if batch:
            db.session.execute(insert, batch)
            db.session.commit()
        hashing = _hash_rate(blobs)
        integrator = build_integrator(app)
        started = time.perf_counter()
        result = integrator.integrate(checkpoint=True)
        integration = result.integrated / (time.perf_counter() - started)
        signer = load_vault(app).log_signer(log_origin(app))
        verifier = NoteVerifier.from_verifier_key(signer.verifier_key())
        connection = db.session.connection()
        started = time.perf_counter()
        report = verify_log(connection, verifier=verifier, workers=os.cpu_count() or 1)
        verification = report.leaves / (time.perf_counter() - started)
        db.session.remove()
        db.engine.dispose()
    assert report.ok, report.findings
    return [
        Row(
            "audit",
            f"integration: {result.integrated:,} entries, one checkpoint",
            f"{integration:,.0f} entries/s",
            f"{hashing:,.0f} leaf hashes/s",
            integration / hashing,
            "",
            "",
            ">= 20,000/s",
            integration >= 20_000,
        ),
        Row(
            "audit",
            f"verify: {report.leaves:,} leaves, {report.checkpoints} checkpoints",
            f"{verification:,.0f} entries/s",
            f"{hashing:,.0f} leaf hashes/s",
            verification / hashing,
            "",
            "",
            ">= 100,000/s",
            verification >= 100_000,
        ),
    ]


def _fill_hashes(connection: Any, size: int, dialect: str) -> None:
    """Stored hashes of a ``size``-leaf tree; random bytes, as only lookups are timed."""
    total = stored_count(size)
    chunk = 200_000
    if dialect == "sqlite":
        for start in range(0, total, chunk):
            stop = min(total, start + chunk)
            connection.executemany(
                "INSERT INTO audit_hash VALUES (?, ?)",
                ((i, os.urandom(32)) for i in range(start, stop)),
            )
        connection.commit()
        return
    with (
        connection.cursor() as cursor,
        cursor.copy("COPY audit_hash (stored_index, hash) FROM STDIN") as copy,
    ):
        for index in range(total):
            copy.write_row((index, os.urandom(32)))
    connection.commit()


def measure_proofs(bench: Bench, size: int, queries: int) -> list[Row]:
    """Inclusion proofs in a tree of ``size`` leaves, in a store of their own."""
    from benchmarks.harness import Row
    from benchmarks.instance import create_instance, drop_instance

    instance = create_instance(bench.root / "proofs", bench.options.database_url)
    try:
        app = instance.app()
        if instance.dialect == "sqlite":
            raw: Any = sqlite3.connect(instance.sqlite_path)
        else:
            raw = instance.connect_postgres()
        started = time.perf_counter()
        _fill_hashes(raw, size, instance.dialect)
        filled = time.perf_counter() - started
        rng = random.Random(bench.options.seed)
        indices = [rng.randrange(size) for _ in range(queries)]
        proof_times: list[float] = []
        bare_times: list[float] = []
        placeholder = "?" if instance.dialect == "sqlite" else "%s"
        with app.app_context():
            connection = db.session.connection()
            for index in indices:
                started = time.perf_counter()
                inclusion_proof(connection, index=index, size=size)
                proof_times.append(time.perf_counter() - started)
            for index in indices:
                wanted = [stored_index(n) for n in inclusion_plan(index=index, size=size).nodes]
                marks = ",".join([placeholder] * len(wanted))
                started = time.perf_counter()
                raw.execute(
                    f"SELECT stored_index, hash FROM audit_hash WHERE stored_index IN ({marks})",
                    wanted,
                ).fetchall()
                bare_times.append(time.perf_counter() - started)
            db.session.remove()
            db.engine.dispose()
        raw.close()
    finally:
        drop_instance(instance)
    p95 = _percentile(proof_times, 0.95)
    bare_p95 = _percentile(bare_times, 0.95)
    return [
        Row(
            "audit",
            f"inclusion proof, tree of {size:,} leaves ({stored_count(size):,} stored "
            f"hashes, filled in {filled:.0f} s)",
            f"p95 {p95 * 1e3:.2f} ms",
            f"p95 {bare_p95 * 1e3:.2f} ms bare fetch",
            bare_p95 / p95 if p95 else None,
            f"{_percentile(proof_times, 0.5) * 1e3:.2f}/{p95 * 1e3:.2f}",
            f"{_percentile(bare_times, 0.5) * 1e3:.2f}/{bare_p95 * 1e3:.2f}",
            "p95 < 5 ms",
            p95 < 0.005,
        )
    ]


def measure_audit(bench: Bench) -> list[Row]:
    quick = bench.options.quick
    rows = measure_audit_share(bench, 300 if quick else 3000)
    rows += measure_integration(bench, 20_000 if quick else 200_000)
    rows += measure_proofs(bench, 100_000 if quick else 10_000_000, 200 if quick else 2000)
    return rows
