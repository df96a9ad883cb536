"""One unit of work per request: one connection, one transaction, one commit after the entry."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event

from exchange.agencies.models import Agency
from exchange.extensions import db
from exchange.unit_of_work import wait_outside
from tests.exchange.helpers import audit_entry
from tests.factories import AgencySystem, World


@dataclass
class Seen:
    checkouts: int = 0
    begins: int = 0
    commits: int = 0
    rollbacks: int = 0
    statements: list[str] = field(default_factory=list)


@contextmanager
def watching(app: Flask) -> Iterator[Seen]:
    """What the engine does while the block runs."""
    with app.app_context():
        engine = db.engine
    seen = Seen()

    def checkout(*_: Any) -> None:
        seen.checkouts += 1

    def begin(*_: Any) -> None:
        seen.begins += 1

    def commit(*_: Any) -> None:
        seen.commits += 1

    def rollback(*_: Any) -> None:
        seen.rollbacks += 1

    def statement(_c: Any, _cu: Any, sql: str, *_: Any) -> None:
        seen.statements.append(sql)

    listeners = [
        ("checkout", checkout),
        ("begin", begin),
        ("commit", commit),
        ("rollback", rollback),
        ("before_cursor_execute", statement),
    ]
    for name, listener in listeners:
        event.listen(engine, name, listener)
    try:
        yield seen
    finally:
        for name, listener in listeners:
            event.remove(engine, name, listener)


@pytest.fixture()
def caller(world: World) -> AgencySystem:
    return world.agency("immigration")


def _publish(app: Flask, caller: AgencySystem, body: dict[str, Any]) -> Any:
    return app.test_client().post("/api/v1/records", json=body, environ_base=caller.environ())


def _is_sqlite(app: Flask) -> bool:
    with app.app_context():
        return bool(db.engine.dialect.name == "sqlite")


class TestOneTransactionPerRequest:
    def test_a_publish_takes_one_connection_and_commits_once(
        self, app: Flask, caller: AgencySystem
    ) -> None:
        with watching(app) as seen:
            response = _publish(app, caller, caller.submission(caller.envelope()))
        assert response.status_code == 201, response.get_json()
        assert (seen.checkouts, seen.begins, seen.commits) == (1, 1, 1)

    def test_a_batch_too(self, app: Flask, caller: AgencySystem) -> None:
        body = {"records": [caller.submission(caller.envelope()) for _ in range(20)]}
        with watching(app) as seen:
            response = _publish(app, caller, body)
        assert response.status_code == 201, response.get_json()
        assert (seen.checkouts, seen.begins, seen.commits) == (1, 1, 1)

    def test_a_read_commits_once_for_its_entry(self, app: Flask, caller: AgencySystem) -> None:
        envelope = caller.envelope()
        assert _publish(app, caller, caller.submission(envelope)).status_code == 201
        with watching(app) as seen:
            response = app.test_client().get(
                f"/api/v1/records/{envelope['id']}",
                headers={"Exchange-Purpose": "investigation"},
                environ_base=caller.environ(),
            )
        assert response.status_code == 200, response.get_json()
        assert (seen.checkouts, seen.begins, seen.commits) == (1, 1, 1)

    def test_a_refusal_rolls_back_the_work_and_commits_its_entry(
        self, app: Flask, caller: AgencySystem
    ) -> None:
        first, second = caller.envelope(), caller.envelope()
        second["version"] = 2  # a new record starts at version 1: the batch is refused
        body = {"records": [caller.submission(first), caller.submission(second)]}
        with watching(app) as seen:
            response = _publish(app, caller, body)
        assert response.status_code == 409, response.get_json()
        assert seen.commits == 1 and seen.rollbacks >= 1
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["status"] == 409 and entry["action"] == "record.publish"
        read = app.test_client().get(
            f"/api/v1/records/{first['id']}",
            headers={"Exchange-Purpose": "investigation"},
            environ_base=caller.environ(),
        )
        assert read.status_code == 404


class TestSQLiteWriteLock:
    def test_the_transaction_begins_immediate_once(self, app: Flask, caller: AgencySystem) -> None:
        if not _is_sqlite(app):
            pytest.skip("SQLite's locking")
        with watching(app) as seen:
            assert _publish(app, caller, caller.submission(caller.envelope())).status_code == 201
        begins = [s for s in seen.statements if s.upper().startswith("BEGIN")]
        assert begins == ["BEGIN IMMEDIATE"]


class TestWaitingOutside:
    def test_a_unit_of_work_with_changes_may_not_wait(self, app: Flask) -> None:
        with app.test_request_context():
            db.session.add(Agency(id="waiting-agency", kind="police", name_ja="x", name_en="x"))
            with pytest.raises(RuntimeError):
                wait_outside(lambda: None)
            db.session.rollback()

    def test_a_reading_one_gives_its_connection_back_while_it_waits(self, app: Flask) -> None:
        with app.test_request_context():
            db.session.connection()
            engine = db.engine
            checked_out = wait_outside(lambda: engine.pool.checkedout())  # type: ignore[attr-defined]
            assert checked_out == 0
            db.session.remove()
