"""SQLite's log is copied into the database by the checkpointer, not by the commits."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text

from exchange.checkpointer import FALLBACK_PAGES, WalCheckpointer
from exchange.extensions import db


def _wal_database(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_PAGES}")
    connection.execute("CREATE TABLE filler (body BLOB)")
    return connection


def _fill(connection: sqlite3.Connection, pages: int) -> None:
    for _ in range(pages):
        connection.execute("INSERT INTO filler VALUES (randomblob(4000))")


def _wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_commits_leave_the_log_to_the_checkpointer(tmp_path: Path) -> None:
    path = tmp_path / "exchange.db"
    writer = _wal_database(path)
    _fill(writer, 500)
    # Below the fallback, no commit copied anything into the database file.
    assert path.stat().st_size < 100 * 4096
    checkpointer = WalCheckpointer(str(path), interval=0.01)
    checkpointer.start()
    try:
        assert _wait_for(lambda: path.stat().st_size > 500 * 4000)
        # Writers go on while it runs.
        _fill(writer, 50)
        assert writer.execute("SELECT count(*) FROM filler").fetchone() == (550,)
    finally:
        checkpointer.stop()
        writer.close()
    assert not checkpointer.running


def test_a_failed_checkpoint_is_logged_and_tried_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "exchange.db"
    path.write_bytes(b"not a database" * 512)
    checkpointer = WalCheckpointer(str(path), interval=0.01)
    checkpointer.start()
    try:
        assert _wait_for(lambda: len(caplog.records) >= 2)
        assert checkpointer.running
    finally:
        checkpointer.stop()
    assert "WAL checkpoint failed" in caplog.records[0].getMessage()


def test_the_exchange_connections_checkpoint_only_past_the_fallback(app: Flask) -> None:
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite only")
        pages = db.session.execute(text("PRAGMA wal_autocheckpoint")).scalar()
        db.session.remove()
    assert pages == FALLBACK_PAGES
