"""Notices dispatched, by country and by year of dispatch in Japan, on the statistics page and
in its CSV, with the page's small-count suppression. On an exchange of its own: notices
other tests dispatch would change the counts."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from flask import Flask

from exchange.clock import utcnow, uuid7
from exchange.extensions import db
from exchange.notices.models import Notice
from exchange.stats.notices import count_notices
from exchange.stats.service import Period, jst_month_start
from tests.factories import World
from tests.isolated import isolated_app
from tests.web.pages import Browser

THIS_YEAR = utcnow().year
# One hour into the new year in Japan: still the old year in UTC.
NEW_YEAR = jst_month_start(date(THIS_YEAR, 1, 1)) + timedelta(hours=1)
LAST_YEAR = jst_month_start(date(THIS_YEAR - 1, 6, 1))


@pytest.fixture(scope="module")
def stats_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    with isolated_app(tmp_path_factory.mktemp("notice-stats")) as app:
        yield app


def _notice(agency: str, country: str, state: str, dispatched: datetime | None) -> Notice:
    now = utcnow()
    return Notice(
        id=uuid7(),
        agency_id=agency,
        country=country,
        state=state,
        version=1,
        head_sha256="0" * 64,
        created_at=now,
        updated_at=now,
        dispatched_at=dispatched,
    )


@pytest.fixture(scope="module")
def world(stats_app: Flask, tmp_path_factory: pytest.TempPathFactory) -> World:
    world = World(stats_app, tmp_path_factory.mktemp("notice-stats-bundles"))
    otit = world.agency("otit").agency
    with stats_app.app_context():
        rows = [
            _notice(otit, "VN", "answered", LAST_YEAR),
            *(_notice(otit, "VN", "dispatched", NEW_YEAR) for _ in range(3)),
            *(_notice(otit, "PH", "dispatched", NEW_YEAR) for _ in range(3)),
            _notice(otit, "ID", "answered", NEW_YEAR),
            # Never sent abroad: not counted.
            _notice(otit, "VN", "pending", None),
            _notice(otit, "VN", "rejected", None),
        ]
        db.session.add_all(rows)
        db.session.commit()
    return world


def _period() -> Period:
    return Period(date(THIS_YEAR - 1, 1, 1), date(THIS_YEAR, 12, 1))


class TestNoticeCounts:
    def test_by_country_and_by_year_in_japan(self, stats_app: Flask, world: World) -> None:
        with stats_app.app_context():
            counts = count_notices(period=_period())
        assert counts.total == 8
        assert counts.by["notice_country"] == {"VN": 4, "PH": 3, "ID": 1}
        # The notice dispatched an hour into January in Japan counts in the new year.
        assert counts.by["notice_year"] == {str(THIS_YEAR - 1): 1, str(THIS_YEAR): 7}

    def test_csv_protects_small_counts(self, stats_app: Flask, world: World) -> None:
        person = world.person(world.agency("otit").agency, "liaison")
        browser = Browser(stats_app)
        browser.sign_in(person)
        response = browser.get(f"/stats.csv?start={THIS_YEAR - 1}-01&end={THIS_YEAR}-12")
        assert response.status_code == 200
        text = response.get_data(as_text=True).removeprefix("\ufeff")
        rows = list(csv.DictReader(io.StringIO(text)))
        notices = {
            (row["dimension"], row["key"]): row["count"]
            for row in rows
            if row["dimension"].startswith("notice")
        }
        assert notices[("notices_total", "")] == "8"
        assert notices[("notice_country", "ID")] == "<3"
        assert notices[("notice_year", str(THIS_YEAR - 1))] == "<3"
        # Neither small count can be worked out from the total by subtraction.
        assert notices[("notice_year", str(THIS_YEAR))] == "x"
        assert "1" not in {notices[("notice_country", c)] for c in ("VN", "PH", "ID")}

        page = browser.get(f"/stats?start={THIS_YEAR - 1}-01&end={THIS_YEAR}-12")
        assert page.status_code == 200
        assert "Notices to sending-country governments" in page.get_data(
            as_text=True
        ) or "送出国政府への申入れ" in page.get_data(as_text=True)
