"""The account column of leaves integrated before it existed: derived by the migration."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from exchange.auth.actor import Actor
from exchange.clock import uuid7
from exchange.extensions import db
from exchange.trail.entries import entry_bytes


def test_the_migration_derives_the_account_of_integrated_leaves(tmp_path: Path) -> None:
    from flask_migrate import upgrade

    from exchange import create_app
    from tests.isolated import _engine, _with_search_path

    url = os.environ.get("EXCHANGE_TEST_DATABASE_URL")
    schema = f"t_{os.getpid()}_account"
    if url:
        with _engine(url).begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = _with_search_path(url, schema)
    else:
        url = f"sqlite:///{tmp_path / 'exchange.db'}"
    app = create_app(
        {
            "TESTING": True,
            "EXCHANGE_INSTANCE_PATH": str(tmp_path),
            "EXCHANGE_DATABASE_URL": url,
            "EXCHANGE_KEY_PASSPHRASE": "test passphrase",
        }
    )
    now = datetime(2026, 11, 30, 1, 2, 3, tzinfo=UTC)
    entries = [
        ("auth.login.failed", 401, {"reason": "credentials_invalid", "user": "kato"}),
        ("auth.login.failed", 401, {"reason": "credentials_invalid"}),
        ("ui.home", 200, {}),
    ]
    try:
        with app.app_context():
            directory = app.extensions["migrate"].directory
            upgrade(directory=directory, revision="0006")
            for seq, (action, status, details) in enumerate(entries, start=1):
                entry_id = uuid7()
                canonical = entry_bytes(
                    entry_id=entry_id,
                    recorded_at=now,
                    actor=Actor(kind="anonymous", address="192.0.2.1"),
                    action=action,
                    status=status,
                    details=details,
                )
                db.session.execute(
                    text("INSERT INTO audit_entry (seq, id, canonical) VALUES (:seq, :id, :c)"),
                    {"seq": seq, "id": entry_id, "c": canonical},
                )
                db.session.execute(
                    text(
                        "INSERT INTO audit_leaf (leaf_index, entry_seq, recorded_at, action, "
                        "outcome, status) VALUES (:index, :seq, :at, :action, :outcome, :status)"
                    ),
                    {
                        "index": seq - 1,
                        "seq": seq,
                        "at": now,
                        "action": action,
                        "outcome": "denied" if status == 401 else "ok",
                        "status": status,
                    },
                )
            db.session.commit()
            upgrade(directory=directory)
            accounts = db.session.execute(
                text("SELECT leaf_index, account_user FROM audit_leaf ORDER BY leaf_index")
            ).all()
            # The leaves are append-only again once the migration is done.
            with pytest.raises(DatabaseError):
                db.session.execute(text("UPDATE audit_leaf SET account_user = 'x'"))
            db.session.rollback()
            db.session.remove()
            db.engine.dispose()
    finally:
        if os.environ.get("EXCHANGE_TEST_DATABASE_URL"):
            with _engine(os.environ["EXCHANGE_TEST_DATABASE_URL"]).begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    assert [tuple(row) for row in accounts] == [(0, "kato"), (1, None), (2, None)]
