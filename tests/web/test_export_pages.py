"""Downloading search results: CSV with a BOM, .xlsx, the audit entry, the bound."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator

import pytest
from flask import Flask
from openpyxl import load_workbook

from tests.exchange.helpers import audit_entry, configured
from tests.factories import World
from tests.web.pages import Browser
from tests.web.test_search_pages import broker, publish, sign_in


@pytest.fixture()
def tiny_exports(app: Flask) -> Iterator[None]:
    with configured(app, EXCHANGE_RECORD_EXPORT_MAX=1):
        yield


class TestExport:
    def test_csv_and_xlsx_carry_the_search_and_are_audited(
        self, app: Flask, world: World, browser: Browser
    ) -> None:
        isa = world.agency("immigration")
        first = broker(isa, "ホアビン人材有限会社", name_latin="Hoa Binh Manpower")
        second = broker(isa, '=HYPERLINK("http://example.com")', country="PH")
        for envelope in (first, second):
            publish(app, isa, envelope)
        officer = world.person(world.agency("police").agency, "liaison")
        sign_in(browser, officer)
        arguments = {"purpose": "investigation", "publisher": isa.agency}
        html = browser.get("/search", query_string=arguments).get_data(as_text=True)
        assert "/search/export.csv?" in html and "/search/export.xlsx?" in html

        response = browser.get("/search/export.csv", query_string=arguments)
        assert response.status_code == 200
        assert response.headers["Content-Disposition"].startswith("attachment;")
        body = response.get_data()
        assert body.startswith(codecs.BOM_UTF8)
        lines = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        assert lines[0][:2] == ["Record id", "Version"]
        by_id = {line[0]: line for line in lines[1:]}
        assert set(by_id) == {first["id"], second["id"]}
        assert by_id[first["id"]][4] == "ホアビン人材有限会社"
        # Text that looks like a formula stays text when Excel opens the file.
        assert by_id[second["id"]][4].startswith("'=")
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "record.export" and entry["purpose"] == "investigation"
        assert entry["details"]["format"] == "csv"
        assert sorted(t["id"] for t in entry["targets"]) == sorted(by_id)

        response = browser.get("/search/export.xlsx", query_string=arguments)
        assert response.status_code == 200
        sheet = load_workbook(io.BytesIO(response.get_data())).worksheets[0]
        rows = list(sheet.iter_rows(values_only=True))
        names = {row[0]: row[4] for row in rows[1:]}
        assert names[first["id"]] == "ホアビン人材有限会社"
        assert names[second["id"]] == second["payload"]["name"]
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["details"]["format"] == "xlsx" and len(entry["targets"]) == 2

    def test_a_search_without_purpose_exports_nothing(
        self, app: Flask, world: World, browser: Browser
    ) -> None:
        sign_in(browser, world.person(world.agency("police").agency, "liaison"))
        response = browser.get("/search/export.csv", query_string={"type": "broker"})
        assert response.status_code == 422

    def test_past_the_bound_the_download_is_refused_with_a_message(
        self, app: Flask, world: World, browser: Browser, tiny_exports: None
    ) -> None:
        isa = world.agency("immigration")
        for name in ("甲", "乙"):
            publish(app, isa, broker(isa, name))
        sign_in(browser, world.person(world.agency("police").agency, "liaison"))
        response = browser.get(
            "/search/export.xlsx", query_string={"purpose": "audit", "publisher": isa.agency}
        )
        assert response.status_code == 422
        assert "more than 1 records" in response.get_data(as_text=True)
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["targets"] == []
