"""Engine settings per database: SQLite in WAL mode for the embedded default."""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import IO, Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from exchange.checkpointer import FALLBACK_PAGES


def engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # Every request writes (at least its audit entry), and SQLite has one writer. One
        # pooled connection per process makes threads queue on the pool, in order, instead
        # of sleeping in SQLite's busy handler; other processes wait on busy_timeout.
        return {
            "pool_size": 1,
            "max_overflow": 0,
            "pool_timeout": 30,
            "connect_args": {"check_same_thread": False, "timeout": 30},
        }
    return {"pool_size": 20, "max_overflow": 10, "pool_pre_ping": True}


def configure_engine(app: Flask, engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_PAGES}")
        cursor.close()

    @event.listens_for(engine, "before_cursor_execute")
    def _before_execute(
        connection: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        # Reads run in autocommit, each its own snapshot; the first write opens the
        # transaction with the write lock taken at once (BEGIN IMMEDIATE). So the lock is
        # held only from a request's first write to its commit — not while it parses,
        # validates and verifies signatures — and a deferred transaction never has to
        # upgrade, which in WAL mode fails outright when another process wrote meanwhile.
        # Concurrent writers of the same rows are still kept apart by unique constraints.
        if _writes(statement):
            begin_immediate(connection.connection.driver_connection)


def release_between_reads(session: Session) -> None:
    """On SQLite, hand the process's one pooled connection back while the request computes.

    Reads run in autocommit there, each its own snapshot, so a request that has only read
    loses nothing by giving the connection back: other threads read and write on it while
    this one parses, validates and checks signatures (Ed25519 runs outside the GIL), and
    the next statement takes it again. Nothing is released once a write has begun or the
    session holds changes. PostgreSQL keeps its transaction: its pool has a connection
    per thread.
    """
    if not session.is_active or session.new or session.dirty or session.deleted:
        return
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return
    if session.in_transaction():
        driver: Any = session.connection().connection.driver_connection
        if driver.in_transaction:
            return
    session.close()


def begin_immediate(driver_connection: Any) -> None:
    """Open a SQLite write transaction, lock taken now, unless one is open already."""
    if not driver_connection.in_transaction:
        driver_connection.execute("BEGIN IMMEDIATE")


_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")


def _writes(statement: str) -> bool:
    return statement.lstrip()[:7].upper().startswith(_WRITE_VERBS)


def libpq_url(engine: Engine) -> str:
    """The engine's database as psycopg connects to it, for a connection of one's own."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def try_file_lock(path: Path) -> IO[bytes] | None:
    """An exclusive lock on ``path``, held while the returned file stays open; None if taken.

    The lock dies with its process, so a standby takes over after a crash.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("ab")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle
