"""The web import: custodial key, upload, bilingual report, CSRF-protected confirmation, audit."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from exchange.client.importer import record_id_for
from exchange.serving import ExchangeServer
from tests.client.test_import import ROWS, csv_text
from tests.exchange.helpers import audit_entry, configured
from tests.exchange.test_cli import last_entry
from tests.factories import AgencySystem, World
from tests.web.pages import Browser
from tests.web.test_search_pages import sign_in

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"


def custodial_agency(world: World, runner: FlaskCliRunner) -> AgencySystem:
    agency = world.agency("otit")
    result = runner.invoke(args=["agency", "custodial-key", agency.agency])
    assert result.exit_code == 0, result.output
    return agency


def upload(browser: Browser, name: str, data: bytes) -> tuple[int, str]:
    browser.get("/import")
    response = browser.post(
        "/import",
        {"sheet": (io.BytesIO(data), name), "record_type": ""},
        content_type="multipart/form-data",
    )
    return response.status_code, response.headers.get("Location", "")


@pytest.fixture()
def small_uploads(app: Flask) -> Iterator[None]:
    with configured(app, EXCHANGE_IMPORT_UPLOAD_MAX=1024):
        yield


class TestCustodialKey:
    def test_the_key_is_published_flagged_and_the_command_audited(
        self, app: Flask, world: World, runner: FlaskCliRunner
    ) -> None:
        agency = custodial_agency(world, runner)
        assert last_entry(app)["action"] == "admin.key.custodial"
        keys = app.test_client().get(
            f"/api/v1/agencies/{agency.agency}/jwks", environ_base=agency.environ()
        )
        flagged = [k for k in keys.get_json()["keys"] if k.get("custodial")]
        assert len(flagged) == 1 and "d" not in flagged[0]
        assert flagged[0]["kid"] != agency.kid


class TestWebImport:
    def test_upload_report_confirm_publishes_signed_by_the_custodial_key(
        self,
        app: Flask,
        world: World,
        runner: FlaskCliRunner,
        browser: Browser,
        server: ExchangeServer,
    ) -> None:
        agency = custodial_agency(world, runner)
        officer = world.person(agency.agency, "liaison")
        sign_in(browser, officer)
        status, location = upload(browser, "brokers.csv", csv_text(ROWS).encode("cp932"))
        assert status == 302, browser.last.get_data(as_text=True) if browser.last else ""
        upload_entry = audit_entry(app, browser.last.headers["Exchange-Request-Id"])  # type: ignore[union-attr]
        assert upload_entry["action"] == "import.upload"
        assert upload_entry["details"]["encoding"] == "Shift_JIS (cp932)"

        html = browser.get(location).get_data(as_text=True)
        assert "Shift_JIS (cp932)" in html and "Sign and publish" in html
        confirm = re.search(r'action="(/import/[^"]+/confirm)"', html)
        assert confirm is not None
        # Without the form's token the confirmation is refused and publishes nothing.
        refused = browser.post(confirm.group(1), {}, csrf=False)
        assert refused.status_code == 400
        assert "Sign and publish" in browser.get(location).get_data(as_text=True)

        browser.get(location)
        response = browser.post(confirm.group(1), {})
        assert response.status_code == 302
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "import.confirm"
        assert entry["details"]["created"] == 3 and len(entry["targets"]) == 3
        assert entry["actor"]["user"] == officer.username

        # Confirming again publishes nothing twice.
        browser.get("/import")
        assert browser.post(confirm.group(1), {}).status_code == 409

        # Any reader verifies the record with the agency's published keys alone.
        record_id = record_id_for(publisher=agency.agency, record_type="broker", key="id:a-1")
        with world.agency("police").client() as exchange:
            verified = exchange.get(record_id, purpose="investigation")
            assert verified.record["payload"]["country"] == "VN"
            key = exchange.agency_key(agency.agency, verified.kid)
        assert key["custodial"] is True and verified.key_status == "active"
        page = browser.get(f"/records/{record_id}", query_string={"purpose": "audit"})
        assert "Custodial key" in page.get_data(as_text=True)

    def test_bad_rows_are_reported_in_both_languages_and_cannot_be_confirmed(
        self, app: Flask, world: World, runner: FlaskCliRunner, browser: Browser
    ) -> None:
        agency = custodial_agency(world, runner)
        sign_in(browser, world.person(agency.agency, "liaison"))
        status, location = upload(browser, "brokers.xlsx", (SAMPLES / "brokers.xlsx").read_bytes())
        assert status == 302
        html = browser.get(location).get_data(as_text=True)
        assert "ルリタニア" in html and "国が分かりません" in html and "ISO 3166-1" in html
        assert "必須の項目が空欄です。" in html and "Missing data for required field." in html
        assert "Sign and publish" not in html
        browser.get("/import")
        assert browser.post(location + "/confirm", {}).status_code == 422

    def test_another_officers_upload_is_not_found(
        self, app: Flask, world: World, runner: FlaskCliRunner, browser: Browser
    ) -> None:
        agency = custodial_agency(world, runner)
        sign_in(browser, world.person(agency.agency, "liaison"))
        _, location = upload(browser, "brokers.csv", csv_text(ROWS).encode())
        other = Browser(app)
        sign_in(other, world.person(agency.agency, "liaison"))
        assert other.get(location).status_code == 404

    def test_large_uploads_and_agencies_without_a_key_are_refused(
        self,
        app: Flask,
        world: World,
        runner: FlaskCliRunner,
        browser: Browser,
        small_uploads: None,
    ) -> None:
        agency = custodial_agency(world, runner)
        sign_in(browser, world.person(agency.agency, "liaison"))
        status, _ = upload(browser, "big.csv", csv_text(ROWS * 20).encode())
        assert status == 413
        status, _ = upload(browser, "utf16.csv", csv_text(ROWS[:1]).encode("utf-16"))
        assert status == 422
        assert "UTF-16" in browser.last.get_data(as_text=True)  # type: ignore[union-attr]
        sign_in(other := Browser(app), world.person(world.agency("mofa").agency, "liaison"))
        assert other.get("/import").status_code == 403
