"""Engine settings per database: SQLite in WAL mode for the embedded default."""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import IO, Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from exchange.checkpointer import FALLBACK_PAGES

# Execution option of a connection that only reads (a verification, an export): on SQLite
# its transaction begins without the write lock.
READ_ONLY = "exchange_read_only"


def engine_options(url: str) -> dict[str, Any]:
    # A statement's parameters (a record's payload, a search term) stay out of the
    # exceptions SQLAlchemy raises, and so out of the logs.
    shared = {"hide_parameters": True}
    if url.startswith("sqlite"):
        # SQLite has one writer, and every request writes (at least its audit entry). One
        # pooled connection per process makes threads queue on the pool, in order, instead
        # of sleeping in SQLite's busy handler; other processes wait on busy_timeout.
        return {
            **shared,
            "pool_size": 1,
            "max_overflow": 0,
            "pool_timeout": 30,
            "connect_args": {"check_same_thread": False, "timeout": 30},
        }
    return {**shared, "pool_size": 20, "max_overflow": 10, "pool_pre_ping": True}


def configure_engine(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        # SQLAlchemy's recipe for SQLite transactions: the sqlite3 module emits no BEGIN
        # of its own, the "begin" event below does.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A unit of work that writes takes the write lock when it begins (IMMEDIATE): a
        # deferred transaction that reads first and writes later must upgrade its lock,
        # which in WAL mode fails outright when another process wrote meanwhile.
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def libpq_url(engine: Engine) -> str:
    """The engine's database as psycopg connects to it, for LISTEN and advisory locks."""
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
