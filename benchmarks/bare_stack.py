"""The bare endpoint on the exchange's own stack: plain Flask, SQLAlchemy Core.

The work is ``benchmarks.bare.Endpoint``, unchanged; only the layers around it are the
exchange's. The application is a plain ``Flask`` (no flask-smorest, no extensions), one view
per route. The database is reached through SQLAlchemy Core on an engine built the way the
exchange builds its own, ``create_engine(url, **engine_options(url))`` then
``configure_engine``: on SQLite WAL, ``busy_timeout``, one pooled connection and
``BEGIN IMMEDIATE`` at a transaction's first write; on PostgreSQL psycopg 3 and the
exchange's pool. Statements are built once and executed on ``engine.begin()`` connections,
one transaction per request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Flask, Response, request
from sqlalchemy import (
    Column,
    LargeBinary,
    MetaData,
    Table,
    Text,
    bindparam,
    create_engine,
    select,
    text,
)
from sqlalchemy.engine import Engine

from benchmarks.bare import (
    EMPTY_TABLES,
    INVALID,
    INVALID_ERRORS,
    POSTGRES_TABLES,
    RECORDS_PATH,
    SELECT_SIGNING_KEYS,
    SQLITE_TABLES,
    AuditRow,
    Endpoint,
    RecordRow,
    Refused,
    SigningKeys,
    load_signing_keys,
    refusal_body,
)
from exchange.auth.mtls import CLIENT_CERT_FINGERPRINT
from exchange.database import configure_engine, engine_options

METADATA = MetaData()
# The tables as ``benchmarks.bare`` creates them, less ``bare_audit.seq``: the database
# generates it and neither stack reads it, so it is left out of the statements (declared,
# SQLAlchemy would fetch it per row: RETURNING, or a nextval() first on PostgreSQL).
RECORD = Table(
    "bare_record",
    METADATA,
    Column("id", Text, primary_key=True),
    Column("publisher", Text, nullable=False),
    Column("canonical", LargeBinary, nullable=False),
    Column("signature", Text, nullable=False),
    Column("received_at", Text, nullable=False),
)
AUDIT = Table(
    "bare_audit",
    METADATA,
    Column("id", Text, primary_key=True),
    Column("recorded_at", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("record_id", Text, nullable=False),
    Column("purpose", Text),
    implicit_returning=False,
)
RECORD_COLUMNS = ("id", "publisher", "canonical", "signature", "received_at")
AUDIT_COLUMNS = ("id", "recorded_at", "action", "fingerprint", "record_id", "purpose")
JSON = "application/json"


class SQLAlchemyStore:
    """``Store`` through SQLAlchemy Core: one ``engine.begin()`` transaction per call."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        tables = SQLITE_TABLES if engine.dialect.name == "sqlite" else POSTGRES_TABLES
        with engine.begin() as connection:
            for statement in (*tables, *EMPTY_TABLES):
                connection.execute(text(statement))
        self.insert_record = RECORD.insert()
        self.insert_audit = AUDIT.insert()
        self.select_record = select(RECORD.c.canonical, RECORD.c.signature).where(
            RECORD.c.id == bindparam("record_id")
        )
        self.select_keys = text(SELECT_SIGNING_KEYS)

    def signing_keys(self) -> SigningKeys:
        with self.engine.begin() as connection:
            rows = [
                (str(kid), str(agency), str(jwk))
                for kid, agency, jwk in connection.execute(self.select_keys)
            ]
        return load_signing_keys(rows)

    def publish(self, records: Sequence[RecordRow], audits: Sequence[AuditRow]) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                self.insert_record, [dict(zip(RECORD_COLUMNS, row, strict=True)) for row in records]
            )
            connection.execute(
                self.insert_audit, [dict(zip(AUDIT_COLUMNS, row, strict=True)) for row in audits]
            )

    def read(self, record_id: str, audit: AuditRow) -> tuple[bytes, str] | None:
        with self.engine.begin() as connection:
            row = connection.execute(self.select_record, {"record_id": record_id}).first()
            connection.execute(self.insert_audit, dict(zip(AUDIT_COLUMNS, audit, strict=True)))
        return None if row is None else (bytes(row[0]), str(row[1]))


def _answer(status: str, body: bytes) -> Response:
    return Response(body, status=status, content_type=JSON)


def _fingerprint() -> str:
    fingerprint = request.environ.get(CLIENT_CERT_FINGERPRINT)
    if not fingerprint:
        raise Refused("401 Unauthorized", "certificate_required")
    return str(fingerprint)


def create_stack_app(endpoint: Endpoint, app: Flask | None = None) -> Flask:
    """The routes of the bare endpoint on a plain Flask application."""
    app = app or Flask(__name__)

    @app.post(RECORDS_PATH)
    def publish() -> Response:
        fingerprint = _fingerprint()
        return _answer(*endpoint.publish(request.get_data(), fingerprint))

    @app.get(f"{RECORDS_PATH}/<record_id>")
    def read(record_id: str) -> Response:
        fingerprint = _fingerprint()
        purpose = request.headers.get("Exchange-Purpose")
        return _answer(*endpoint.read(record_id, fingerprint, purpose))

    @app.errorhandler(Refused)
    def refused(error: Refused) -> Response:
        return _answer(error.status, refusal_body(error))

    def invalid(error: Exception) -> Response:
        return _answer("400 Bad Request", INVALID)

    for kind in INVALID_ERRORS:
        app.register_error_handler(kind, invalid)

    @app.errorhandler(404)
    def not_found(error: Any) -> Response:
        return _answer("404 Not Found", refusal_body(Refused("404 Not Found", "not_found")))

    return app


def flask_application(url: str) -> Flask:
    """The Flask application on an engine built and configured as the exchange's."""
    app = Flask(__name__)
    engine = create_engine(url, **engine_options(url))
    configure_engine(engine)
    return create_stack_app(Endpoint(SQLAlchemyStore(engine)), app)
