"""The SQLite process's one pooled connection is given back while a request only computes."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import text

from exchange.database import release_between_reads
from exchange.extensions import db


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
