"""The bare endpoints: the irreducible work of a publish or a read, and nothing else.

Per record a publish only reads the body, parses it, canonicalizes the record (RFC 8785),
checks the Ed25519 signature with the publisher's public key (the keys are loaded once at
start), inserts one record row and one audit row, and commits. A body with ``records`` is a
batch: the same per record, in one transaction. A read (``Exchange-Purpose`` required)
selects one stored row by id and inserts one audit row. That work is ``Endpoint``, shared by
two stacks:

``flask`` (the default, ``benchmarks.bare_stack``)
    The exchange's own stack: a plain Flask application, SQLAlchemy Core on an engine built
    and configured as the exchange builds its own.
``wsgi``
    A stricter floor: a raw WSGI callable (``BareApp``) on raw ``sqlite3`` or ``psycopg``.

Both run on the exchange's server (cheroot ``wsgi.Server``, same threads) and TLS
(``ExchangeTLSAdapter`` on the exchange's vault, client certificate required), on the same
database file or schema. Run as ``python -m benchmarks.bare --port P [--stack flask|wsgi]``
with the exchange's ``EXCHANGE_*`` environment. Their tables are ``bare_record`` and
``bare_audit``, emptied at every start: each server measured starts from empty tables, and
the same bodies can be published to one stack after the other.
"""

from __future__ import annotations

import argparse
import json
import queue
import signal
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import psycopg
from cheroot import wsgi

from exchange import create_app
from exchange.auth.mtls import CLIENT_CERT_FINGERPRINT
from exchange.clock import uuid7
from exchange.pki.vault import load_vault
from exchange.serving import ExchangeTLSAdapter
from keys import errors as key_errors
from keys.jcs import canonicalize
from keys.jwk import PublicSigningKey, load_public_jwk
from keys.jws import read_header, verify_detached
from schemas import RECORD_SIGNATURE_TYPE

RECORDS_PATH = "/api/v1/records"

# (record id, publisher, canonical bytes, signature, received at)
RecordRow = tuple[str, str, bytes, str, str]
# (entry id, recorded at, action, client fingerprint, record id, purpose)
AuditRow = tuple[str, str, str, str, str, str | None]

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
# key id: (agency id, public key)
SigningKeys = dict[str, tuple[str, PublicSigningKey]]

SQLITE_TABLES = (
    """CREATE TABLE IF NOT EXISTS bare_record (
        id TEXT PRIMARY KEY, publisher TEXT NOT NULL, canonical BLOB NOT NULL,
        signature TEXT NOT NULL, received_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS bare_audit (
        seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, recorded_at TEXT NOT NULL,
        action TEXT NOT NULL, fingerprint TEXT NOT NULL, record_id TEXT NOT NULL,
        purpose TEXT)""",
)
POSTGRES_TABLES = (
    """CREATE TABLE IF NOT EXISTS bare_record (
        id TEXT PRIMARY KEY, publisher TEXT NOT NULL, canonical BYTEA NOT NULL,
        signature TEXT NOT NULL, received_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS bare_audit (
        seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, recorded_at TEXT NOT NULL,
        action TEXT NOT NULL, fingerprint TEXT NOT NULL, record_id TEXT NOT NULL,
        purpose TEXT)""",
)
_INSERT_RECORD = (
    "INSERT INTO bare_record (id, publisher, canonical, signature, received_at) "
    "VALUES ({0}, {0}, {0}, {0}, {0})"
)
_INSERT_AUDIT = (
    "INSERT INTO bare_audit (id, recorded_at, action, fingerprint, record_id, purpose) "
    "VALUES ({0}, {0}, {0}, {0}, {0}, {0})"
)
_SELECT_RECORD = "SELECT canonical, signature FROM bare_record WHERE id = {0}"
EMPTY_TABLES = ("DELETE FROM bare_audit", "DELETE FROM bare_record")
SELECT_SIGNING_KEYS = "SELECT kid, agency_id, jwk FROM signing_key"
STACKS = ("flask", "wsgi")


class Store(Protocol):
    def signing_keys(self) -> SigningKeys: ...

    def publish(self, records: Sequence[RecordRow], audits: Sequence[AuditRow]) -> None: ...

    def read(self, record_id: str, audit: AuditRow) -> tuple[bytes, str] | None: ...


def load_signing_keys(rows: Iterable[tuple[str, str, str]]) -> SigningKeys:
    return {kid: (agency, load_public_jwk(json.loads(jwk))) for kid, agency, jwk in rows}


class SQLiteStore:
    """One connection in WAL mode, synchronous=NORMAL, guarded by a lock."""

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(
            str(path), check_same_thread=False, isolation_level=None, timeout=30
        )
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=NORMAL")
        self.connection.execute("PRAGMA busy_timeout=30000")
        for statement in (*SQLITE_TABLES, *EMPTY_TABLES):
            self.connection.execute(statement)
        self.lock = threading.Lock()
        self.insert_record = _INSERT_RECORD.format("?")
        self.insert_audit = _INSERT_AUDIT.format("?")
        self.select_record = _SELECT_RECORD.format("?")

    def signing_keys(self) -> SigningKeys:
        with self.lock:
            return load_signing_keys(self.connection.execute(SELECT_SIGNING_KEYS))

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield self.connection
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
            self.connection.execute("COMMIT")

    def publish(self, records: Sequence[RecordRow], audits: Sequence[AuditRow]) -> None:
        with self._transaction() as connection:
            connection.executemany(self.insert_record, records)
            connection.executemany(self.insert_audit, audits)

    def read(self, record_id: str, audit: AuditRow) -> tuple[bytes, str] | None:
        with self._transaction() as connection:
            row = connection.execute(self.select_record, (record_id,)).fetchone()
            connection.execute(self.insert_audit, audit)
        return None if row is None else (bytes(row[0]), str(row[1]))


class PostgresStore:
    """A small pool of psycopg connections, one transaction per request."""

    def __init__(self, url: str, size: int) -> None:
        self.pool: queue.Queue[psycopg.Connection[Any]] = queue.Queue()
        for _ in range(size):
            self.pool.put(psycopg.connect(url))
        with self._connection() as connection:
            for statement in (*POSTGRES_TABLES, *EMPTY_TABLES):
                connection.execute(statement)
            connection.commit()
        self.insert_record = _INSERT_RECORD.format("%s")
        self.insert_audit = _INSERT_AUDIT.format("%s")
        self.select_record = _SELECT_RECORD.format("%s")

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        connection = self.pool.get()
        try:
            yield connection
        except BaseException:
            connection.rollback()
            raise
        finally:
            self.pool.put(connection)

    def signing_keys(self) -> SigningKeys:
        with self._connection() as connection:
            rows = connection.execute(SELECT_SIGNING_KEYS).fetchall()
            connection.commit()
        return load_signing_keys(rows)

    def publish(self, records: Sequence[RecordRow], audits: Sequence[AuditRow]) -> None:
        with self._connection() as connection:
            with connection.cursor() as cursor:
                cursor.executemany(self.insert_record, records)
                cursor.executemany(self.insert_audit, audits)
            connection.commit()

    def read(self, record_id: str, audit: AuditRow) -> tuple[bytes, str] | None:
        with self._connection() as connection:
            row = connection.execute(self.select_record, (record_id,)).fetchone()
            connection.execute(self.insert_audit, audit)
            connection.commit()
        return None if row is None else (bytes(row[0]), str(row[1]))


class Refused(Exception):
    def __init__(self, status: str, code: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Endpoint:
    """The work of both stacks, given the body bytes or the id and purpose of a read."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.keys = store.signing_keys()

    def publish(self, body: bytes, fingerprint: str) -> tuple[str, bytes]:
        document = json.loads(body)
        batch = "records" in document
        items = document["records"] if batch else [document]
        received_at = _now()
        records: list[RecordRow] = []
        audits: list[AuditRow] = []
        for item in items:
            record, signature = item["record"], item["signature"]
            canonical = canonicalize(record)
            known = self.keys.get(read_header(signature).kid)
            if known is None:
                raise Refused("422 Unprocessable Entity", "key_unknown")
            agency, key = known
            try:
                verify_detached(signature, canonical, key=key, typ=RECORD_SIGNATURE_TYPE)
            except key_errors.Error:
                raise Refused("422 Unprocessable Entity", "signature_invalid") from None
            records.append((record["id"], agency, canonical, signature, received_at))
            audits.append((uuid7(), received_at, "record.publish", fingerprint, record["id"], None))
        self.store.publish(records, audits)
        results = [{"id": row[0], "version": 1, "created": True} for row in records]
        answer = {"results": results} if batch else results[0]
        return "201 Created", json.dumps(answer).encode()

    def read(self, record_id: str, fingerprint: str, purpose: str | None) -> tuple[str, bytes]:
        if not purpose:
            raise Refused("400 Bad Request", "purpose_required")
        audit = (uuid7(), _now(), "record.read", fingerprint, record_id[:64], purpose)
        row = self.store.read(record_id, audit)
        if row is None:
            raise Refused("404 Not Found", "record_not_found")
        canonical, signature = row
        body = b'{"record":' + canonical + b',"signature":' + json.dumps(signature).encode() + b"}"
        return "200 OK", body


INVALID = b'{"code":"invalid"}'
# What a malformed body or signature raises: answered 400 ``invalid`` by both stacks.
INVALID_ERRORS: tuple[type[Exception], ...] = (ValueError, KeyError, TypeError, key_errors.Error)


def refusal_body(refused: Refused) -> bytes:
    return json.dumps({"code": refused.code}).encode()


class BareApp(Endpoint):
    """The raw WSGI application: the floor."""

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        try:
            fingerprint = environ.get(CLIENT_CERT_FINGERPRINT)
            if not fingerprint:
                raise Refused("401 Unauthorized", "certificate_required")
            method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
            if method == "POST" and path == RECORDS_PATH:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                status, body = self.publish(environ["wsgi.input"].read(length), fingerprint)
            elif method == "GET" and path.startswith(RECORDS_PATH + "/"):
                record_id = path[len(RECORDS_PATH) + 1 :]
                purpose = environ.get("HTTP_EXCHANGE_PURPOSE")
                status, body = self.read(record_id, fingerprint, purpose)
            else:
                raise Refused("404 Not Found", "not_found")
        except Refused as refused:
            status, body = refused.status, refusal_body(refused)
        except INVALID_ERRORS:
            status, body = "400 Bad Request", INVALID
        start_response(
            status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]


def wsgi_application(url: str, threads: int) -> BareApp:
    """The floor on the exchange's database: raw ``sqlite3``, or ``psycopg`` connections."""
    store: Store
    if url.startswith("sqlite"):
        store = SQLiteStore(Path(url.removeprefix("sqlite:///")))
    else:
        store = PostgresStore(url.replace("postgresql+psycopg://", "postgresql://", 1), threads)
    return BareApp(store)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bare",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument(
        "--stack",
        choices=STACKS,
        default="flask",
        help="flask: Flask and SQLAlchemy as the exchange uses them (default); "
        "wsgi: a raw WSGI callable on raw sqlite3/psycopg",
    )
    options = parser.parse_args(argv)

    app = create_app()
    vault = load_vault(app)
    url: str = app.config["SQLALCHEMY_DATABASE_URI"]
    application: Callable[..., Iterable[bytes]]
    if options.stack == "flask":
        from benchmarks.bare_stack import flask_application

        application = flask_application(url)
    else:
        application = wsgi_application(url, options.threads)
    server = wsgi.Server(
        (options.host, options.port),
        application,
        numthreads=options.threads,
        server_name=app.config["EXCHANGE_NAME"],
        timeout=30,
        request_queue_size=128,
    )
    server.ssl_adapter = ExchangeTLSAdapter(vault, listener="api", require_client_certificate=True)
    server.prepare()
    stopping = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    thread = threading.Thread(target=server.serve, name="bare", daemon=True)
    thread.start()
    print(
        f"bare endpoint ({options.stack}): "
        f"https://{options.host}:{server.bind_addr[1]}{RECORDS_PATH}",
        flush=True,
    )
    while not stopping.wait(0.5) and thread.is_alive():
        pass
    server.stop()
    thread.join(timeout=10)


if __name__ == "__main__":
    main()
