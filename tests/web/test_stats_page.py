"""The statistics page and its CSV: counts per dimension, small counts suppressed, JST months.

The figures cover every agency's records, so these tests run on an exchange of their own
(tests.isolated): records other tests publish would change the counts.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from babel import Locale
from flask import Flask

from exchange.clock import utcnow
from exchange.stats.labels import RECORD_TYPE_LABELS
from exchange.stats.service import Period, count_records, jst_month_of, jst_month_start
from exchange.stats.suppression import protect
from exchange.ui.filters import JST
from schemas.countries import COUNTRY_NAMES
from schemas.prefectures import PREFECTURES
from schemas.projection import search_fields
from tests.exchange.helpers import audit_entry
from tests.factories import OPERATOR, AgencySystem, Person, World, iso
from tests.isolated import isolated_app
from tests.web.pages import Browser


def _month(moment: datetime) -> date:
    return moment.astimezone(JST).date().replace(day=1)


def _previous(month: date) -> date:
    return (month - timedelta(days=1)).replace(day=1)


# Three months back from now: inside every signing key's validity (a year back), and
# clear of the current month that other publications fall in.
LATER = _previous(_previous(_previous(_month(utcnow()))))
EARLIER = _previous(LATER)
# One hour after LATER begins in Japan: still the last day of EARLIER in UTC.
BOUNDARY = jst_month_start(LATER) + timedelta(hours=1)
MID_EARLIER = jst_month_start(EARLIER) + timedelta(days=14)
MID_LATER = jst_month_start(LATER) + timedelta(days=10)


class Published:
    def __init__(self, app: Flask, world: World) -> None:
        self.app = app
        self.world = world
        self.envelopes: list[dict[str, Any]] = []

    def publish(self, agency: AgencySystem, record_type: str, issued: datetime) -> dict[str, Any]:
        envelope = agency.envelope(record_type, issued_at=iso(issued))
        self.post(agency, envelope)
        self.envelopes.append(envelope)
        return envelope

    def post(self, agency: AgencySystem, envelope: dict[str, Any]) -> None:
        response = self.app.test_client().post(
            "/api/v1/records", json=agency.submission(envelope), environ_base=agency.environ()
        )
        assert response.status_code in (200, 201), response.get_data(as_text=True)


@pytest.fixture(scope="module")
def stats_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    with isolated_app(tmp_path_factory.mktemp("stats")) as app:
        yield app


@pytest.fixture(scope="module")
def published(stats_app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Published:
    """Ten records in EARLIER and LATER: 5 brokers, 1 school, 4 illegal employment cases."""
    world = World(stats_app, tmp_path_factory.mktemp("stats-bundles"))
    police, isa, mofa = world.agency("police"), world.agency("immigration"), world.agency("mofa")
    records = Published(stats_app, world)
    records.publish(police, "broker", BOUNDARY)
    records.publish(police, "broker", MID_LATER)
    records.publish(police, "broker", MID_LATER)
    records.publish(isa, "broker", MID_LATER)
    records.publish(isa, "broker", MID_LATER)
    records.publish(mofa, "school", MID_LATER)
    for _ in range(4):
        records.publish(isa, "illegal_employment", MID_EARLIER)
    # Withdrawn records do not count; amended ones count once, in their first month.
    gone = Published(stats_app, world).publish(police, "broker", MID_LATER)
    records.post(
        police,
        dict(gone, version=2, status="withdrawn", reason="誤登録", issued_at=iso(utcnow())),
    )
    amended = records.envelopes[1]
    records.post(police, dict(amended, version=2, issued_at=iso(utcnow())))
    return records


@pytest.fixture()
def liaison(stats_app: Flask, published: Published) -> Person:
    police = published.world.agency("police")
    return published.world.person(police.agency, "liaison")


def _signed_in(app: Flask, person: Person) -> Browser:
    browser = Browser(app)
    browser.sign_in(person)
    return browser


def _in_english(browser: Browser) -> None:
    browser.get("/")
    browser.post("/language", {"lang": "en", "next": "/"})


def _query(record_type: str = "") -> str:
    return f"start={EARLIER:%Y-%m}&end={LATER:%Y-%m}&type={record_type}"


def _csv(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


class TestMonthsInJapan:
    def test_an_instant_late_on_the_last_day_in_utc_is_next_month_in_japan(self) -> None:
        assert jst_month_of(datetime(2026, 1, 31, 16, 0, tzinfo=UTC)) == "2026-02"
        assert jst_month_of(datetime(2026, 1, 31, 14, 59, tzinfo=UTC)) == "2026-01"
        assert jst_month_start(date(2026, 2, 1)) == datetime(2026, 1, 31, 15, 0, tzinfo=UTC)

    def test_a_period_is_whole_months_and_bounded(self) -> None:
        period = Period(date(2025, 12, 15), date(2026, 2, 3))
        assert [m.isoformat() for m in period.months()] == [
            "2025-12-01",
            "2026-01-01",
            "2026-02-01",
        ]
        with pytest.raises(ValueError):
            Period(date(2026, 2, 1), date(2026, 1, 1))
        with pytest.raises(ValueError):
            Period(date(2000, 1, 1), date(2020, 1, 1))


class TestSuppression:
    def test_small_counts_and_what_would_give_them_away_are_hidden(self) -> None:
        shown = protect({"broker": 5, "school": 1, "illegal_employment": 4})
        assert shown is not None
        assert {k: v.text for k, v in shown.items()} == {
            "broker": "5",
            "school": "<3",
            "illegal_employment": "x",
        }

    def test_a_table_that_cannot_be_protected_is_withheld(self) -> None:
        # 1 + 3 = 4: knowing the total, the "x" must be 3 and the "<3" must be 1.
        assert protect({"a": 1, "b": 3, "c": 0}) is None
        assert protect({"a": 1, "b": 1}) is None

    def test_zero_is_shown_and_large_counts_stay(self) -> None:
        shown = protect({"a": 0, "b": 3, "c": 10})
        assert shown is not None
        assert [v.text for v in shown.values()] == ["0", "3", "10"]


class TestCounts:
    def test_counts_per_dimension(self, stats_app: Flask, published: Published) -> None:
        with stats_app.app_context():
            counts = count_records(actor=OPERATOR, period=Period(EARLIER, LATER), record_type=None)
        assert counts.total == 10
        assert counts.by["type"] == {"broker": 5, "school": 1, "illegal_employment": 4}
        assert counts.by["agency_kind"] == {"police": 3, "immigration": 6, "mofa": 1}
        # The boundary record was issued on the last day of EARLIER in UTC: LATER in Japan.
        assert counts.by["month"] == {f"{EARLIER:%Y-%m}": 4, f"{LATER:%Y-%m}": 6}
        fields = [search_fields(envelope) for envelope in published.envelopes]
        countries: Counter[str | None] = Counter()
        for found in fields:
            countries.update(found.countries or [None])
        assert counts.by["country"] == dict(countries)
        assert counts.by["prefecture"] == dict(Counter(found.prefecture for found in fields))

    def test_the_type_filter_and_the_period(self, stats_app: Flask, published: Published) -> None:
        with stats_app.app_context():
            schools = count_records(
                actor=OPERATOR, period=Period(EARLIER, LATER), record_type="school"
            )
            earlier = count_records(
                actor=OPERATOR, period=Period(EARLIER, EARLIER), record_type=None
            )
        assert schools.total == 1 and schools.by["agency_kind"] == {"mofa": 1}
        assert earlier.total == 4 and earlier.by["type"] == {"illegal_employment": 4}


class TestPage:
    def test_signed_out_people_are_sent_to_sign_in(self, stats_app: Flask) -> None:
        browser = Browser(stats_app)
        for path in ("/stats", "/stats.csv"):
            response = browser.get(path)
            assert response.status_code == 302
            assert response.headers["Location"].startswith("/login?next=")
            assert audit_entry(stats_app, response.headers["Exchange-Request-Id"])["action"] == (
                "auth.denied"
            )

    def test_charts_and_tables_with_small_counts_suppressed(
        self, stats_app: Flask, liaison: Person
    ) -> None:
        browser = _signed_in(stats_app, liaison)
        _in_english(browser)
        response = browser.get(f"/stats?{_query()}")
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert 'role="img"' in html and "<svg" in html
        assert re.search(r'<svg[^>]+aria-labelledby="chart-type-title chart-type-desc"', html)
        assert '<title id="chart-type-title">' in html
        assert "style=" not in html and "<script>" not in html
        # Records in the period: 10; the school's 1 is "<3", and illegal employment's 4
        # is hidden too, else 10 - 5 - 4 would give the school's count away.
        assert "<strong>10</strong>" in html
        row = re.compile(r"<th scope=\"row\">([^<]+)</th><td class=\"number\">([^<]+)</td>")
        cells = dict(row.findall(html))
        assert cells[str(RECORD_TYPE_LABELS["broker"])] == "5"
        assert cells[str(RECORD_TYPE_LABELS["school"])] == "&lt;3"
        assert cells[str(RECORD_TYPE_LABELS["illegal_employment"])] == "x"
        # Months: 4 in EARLIER and 6 in LATER (the boundary record is in LATER in JST).
        assert f'<code>{EARLIER:%Y-%m}</code></td><th scope="row">{EARLIER:%Y-%m}</th>' in html
        assert cells[f"{EARLIER:%Y-%m}"] == "4" and cells[f"{LATER:%Y-%m}"] == "6"
        # A suppressed bar is a fixed stub, labelled "<3".
        assert 'class="bar suppressed"' in html
        entry = audit_entry(stats_app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "stats.read"
        assert entry["purpose"] == "statistics"

    def test_an_invalid_period_is_refused_with_the_form(
        self, stats_app: Flask, liaison: Person
    ) -> None:
        browser = _signed_in(stats_app, liaison)
        response = browser.get(f"/stats?start={LATER:%Y-%m}&end={EARLIER:%Y-%m}")
        assert response.status_code == 422
        assert 'aria-invalid="true"' in response.get_data(as_text=True)
        assert browser.get("/stats?start=2026-13").status_code == 422
        assert browser.get("/stats?type=nonsense").status_code == 422
        assert browser.get("/stats.csv?end=garbage").status_code == 422

    def test_places_are_named_in_the_language_of_the_page(
        self, stats_app: Flask, liaison: Person, published: Published
    ) -> None:
        found = [search_fields(envelope) for envelope in published.envelopes]
        prefecture = next(f.prefecture for f in found if f.prefecture)
        country = next(c for f in found for c in f.countries if c != "JP")
        browser = _signed_in(stats_app, liaison)
        html = browser.get(f"/stats?{_query()}").get_data(as_text=True)
        assert PREFECTURES[prefecture][0] in html
        assert Locale("ja").territories[country] in html
        _in_english(browser)
        html = browser.get(f"/stats?{_query()}").get_data(as_text=True)
        assert PREFECTURES[prefecture][1] in html
        assert COUNTRY_NAMES[country] in html


class TestExport:
    def test_csv_has_every_dimension_with_small_counts_suppressed(
        self, stats_app: Flask, liaison: Person
    ) -> None:
        browser = _signed_in(stats_app, liaison)
        response = browser.get(f"/stats.csv?{_query()}")
        assert response.status_code == 200
        assert response.mimetype == "text/csv"
        assert "attachment" in response.headers["Content-Disposition"]
        rows = _csv(response.get_data(as_text=True))
        by = {(row["dimension"], row["key"]): row["count"] for row in rows}
        assert by[("total", "")] == "10"
        assert by[("type", "broker")] == "5"
        assert by[("type", "school")] == "<3"
        assert by[("type", "illegal_employment")] == "x"
        assert by[("month", f"{EARLIER:%Y-%m}")] == "4"
        assert {row["dimension"] for row in rows} >= {"type", "agency_kind", "month"}
        assert all(row["count"] not in ("1", "2") for row in rows)
        entry = audit_entry(stats_app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "stats.export"

    def test_a_single_type_with_few_records_shows_no_number_below_three(
        self, stats_app: Flask, liaison: Person
    ) -> None:
        browser = _signed_in(stats_app, liaison)
        rows = _csv(browser.get(f"/stats.csv?{_query('school')}").get_data(as_text=True))
        assert rows[0]["count"] == "<3"
        assert all(row["count"] in ("<3", "0", "x") for row in rows)
