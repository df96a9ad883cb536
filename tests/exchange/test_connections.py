"""The SQLite process's one pooled connection is given back while a request only computes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, text

from exchange.auth.mtls import RELEASE_ABOVE_BYTES
from exchange.database import release_between_reads
from exchange.extensions import db
from tests.factories import AgencySystem, World


def _checked_out(app: Flask) -> int:
    return int(db.engine.pool.checkedout())  # type: ignore[attr-defined]


@pytest.fixture()
def sqlite_only(app: Flask) -> None:
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite only: PostgreSQL keeps a connection per thread")


@pytest.mark.usefixtures("sqlite_only")
class TestRelease:
    def test_after_reads_the_connection_goes_back_to_the_pool(self, app: Flask) -> None:
        with app.app_context():
            db.session.execute(text("SELECT count(*) FROM agency")).scalar()
            assert _checked_out(app) == 1
            release_between_reads(db.session())
            assert _checked_out(app) == 0
            # The next statement takes it again.
            db.session.execute(text("SELECT 1")).scalar()
            assert _checked_out(app) == 1
            db.session.remove()

    def test_an_open_write_keeps_it(self, app: Flask) -> None:
        with app.app_context():
            db.session.execute(text("CREATE TEMP TABLE scratch (x INTEGER)"))
            db.session.execute(text("INSERT INTO scratch VALUES (1)"))
            release_between_reads(db.session())
            assert _checked_out(app) == 1
            assert db.session.execute(text("SELECT x FROM scratch")).scalar() == 1
            db.session.rollback()
            db.session.remove()

    def test_pending_changes_keep_it(self, app: Flask) -> None:
        from exchange.agencies.models import Agency

        with app.app_context():
            db.session.execute(text("SELECT 1")).scalar()
            db.session.add(Agency(id="pending-agency", kind="police", name_ja="x", name_en="x"))
            release_between_reads(db.session())
            assert _checked_out(app) == 1
            db.session.rollback()
            db.session.remove()


@contextmanager
def _checkouts(app: Flask) -> Iterator[list[None]]:
    """Every checkout of a pooled connection while the block runs."""
    with app.app_context():
        engine = db.engine
    seen: list[None] = []

    def checkout(*_: Any) -> None:
        seen.append(None)

    event.listen(engine, "checkout", checkout)
    try:
        yield seen
    finally:
        event.remove(engine, "checkout", checkout)


def _publish(app: Flask, caller: AgencySystem, body: dict[str, Any]) -> int:
    response = app.test_client().post("/api/v1/records", json=body, environ_base=caller.environ())
    return response.status_code


@pytest.mark.usefixtures("sqlite_only")
class TestWhenARequestGivesItBack:
    """Handing the connection back costs a checkout; only long computing is worth it."""

    @pytest.fixture()
    def caller(self, world: World) -> AgencySystem:
        return world.agency("immigration")

    def test_a_single_publish_keeps_it_from_identity_to_commit(
        self, app: Flask, caller: AgencySystem
    ) -> None:
        body = caller.submission(caller.envelope())
        with _checkouts(app) as seen:
            assert _publish(app, caller, body) == 201
        assert len(seen) == 1

    def test_a_batch_gives_it_back_while_its_body_and_signatures_are_checked(
        self, app: Flask, caller: AgencySystem
    ) -> None:
        records = [caller.submission(caller.envelope()) for _ in range(20)]
        body = {"records": records}
        assert len(str(body).encode()) > RELEASE_ABOVE_BYTES
        with _checkouts(app) as seen:
            assert _publish(app, caller, body) == 201
        # Identity, then the records' state and keys, then the writes.
        assert len(seen) == 3

    def test_a_small_batch_gives_it_back_only_for_its_signatures(
        self, app: Flask, caller: AgencySystem
    ) -> None:
        body = {"records": [caller.submission(caller.envelope()) for _ in range(2)]}
        with _checkouts(app) as seen:
            assert _publish(app, caller, body) == 201
        assert len(seen) == 2

    def test_a_read_keeps_it(self, app: Flask, caller: AgencySystem, world: World) -> None:
        envelope = caller.envelope()
        assert _publish(app, caller, caller.submission(envelope)) == 201
        with _checkouts(app) as seen:
            response = app.test_client().get(
                f"/api/v1/records/{envelope['id']}",
                headers={"Exchange-Purpose": "investigation"},
                environ_base=caller.environ(),
            )
        assert response.status_code == 200, response.get_json()
        assert len(seen) == 1
