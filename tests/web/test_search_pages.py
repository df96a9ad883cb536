"""The search page: purpose first, filters, pagination, the sharing policy, the audit entry."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from sqlalchemy import event

from exchange.extensions import db
from tests.exchange.helpers import audit_entry
from tests.factories import AgencySystem, Person, World
from tests.web.pages import Browser


def sign_in(browser: Browser, person: Person) -> None:
    """Sign in and read in English, the language of the msgids these tests look for."""
    browser.sign_in(person)
    browser.get("/")
    assert browser.post("/language", {"lang": "en", "next": "/"}).status_code == 302


def publish(app: Flask, agency: AgencySystem, envelope: dict[str, Any]) -> None:
    response = app.test_client().post(
        "/api/v1/records", json=agency.submission(envelope), environ_base=agency.environ()
    )
    assert response.status_code == 201, response.get_json()


def broker(agency: AgencySystem, name: str, **payload: Any) -> dict[str, Any]:
    """A foreign broker named ``name``; ``payload`` replaces members of the payload."""
    envelope = agency.envelope("broker")
    envelope["payload"] = {
        "name": name,
        "category": "sending_organisation",
        "country": "VN",
        "programmes": ["technical_intern"],
        "allegations": ["excessive_fees"],
        "sources": ["trainee_hearing"],
    } | payload
    return envelope


def result_links(html: str) -> list[str]:
    return re.findall(r'href="/records/([0-9a-f-]{36})\?purpose=', html)


def search(browser: Browser, **arguments: str) -> tuple[int, str, str]:
    response = browser.get("/search", query_string=arguments)
    return (
        response.status_code,
        response.get_data(as_text=True),
        response.headers["Exchange-Request-Id"],
    )


class TestPurpose:
    def test_no_purpose_no_results(self, app: Flask, world: World, browser: Browser) -> None:
        isa = world.agency("immigration")
        envelope = broker(isa, f"Purpose Test {uuid.uuid4().hex[:8]}")
        publish(app, isa, envelope)
        sign_in(browser, world.person(isa.agency, "liaison"))

        status, html, request_id = search(browser)
        assert status == 200
        assert 'for="purpose"' in html and "Results are shown once the purpose" in html

        status, html, request_id = search(browser, publisher=isa.agency)
        assert status == 422
        assert "Choose the purpose of this look-up" in html
        assert result_links(html) == []
        entry = audit_entry(app, request_id)
        assert entry["action"] == "record.search" and entry["targets"] == []

        status, html, request_id = search(browser, publisher=isa.agency, purpose="visa_screening")
        assert status == 200
        assert result_links(html) == [envelope["id"]]

    def test_search_needs_the_liaison_role(self, world: World, browser: Browser) -> None:
        isa = world.agency("immigration")
        sign_in(browser, world.person(isa.agency, "auditor"))
        assert browser.get("/search").status_code == 403


class TestFinding:
    def test_japanese_name_finds_a_published_record(
        self, app: Flask, world: World, browser: Browser
    ) -> None:
        otit = world.agency("otit")
        marker = uuid.uuid4().hex[:6]
        envelope = broker(
            otit,
            f"Hoa Binh Manpower {marker}",
            name_original="Công ty TNHH Nhân lực Hòa Bình",
            aliases=[f"ホアビン人材{marker}有限会社"],
        )
        publish(app, otit, envelope)
        sign_in(browser, world.person(otit.agency, "liaison"))
        # Typed in hiragana: kana are folded, so the katakana alias matches.
        status, html, request_id = search(
            browser, purpose="investigation", q=f"ほあびん人材{marker}"
        )
        assert status == 200 and result_links(html) == [envelope["id"]]
        assert "Hoa Binh Manpower" in html
        entry = audit_entry(app, request_id)
        assert entry["purpose"] == "investigation"
        assert entry["targets"] == [{"id": envelope["id"], "version": 1}]
        assert entry["actor"]["user"] and entry["actor"]["agency"] == otit.agency
        assert entry["details"]["filters"]["q"].startswith("hmac-sha256:")
        assert marker not in str(entry)

    def test_filters_narrow_results(self, app: Flask, world: World, browser: Browser) -> None:
        isa = world.agency("immigration")
        vietnamese = broker(isa, "Sao Viet Labour Export JSC", country="VN")
        chinese = broker(
            isa,
            "Liaoning Yuanyang Human Resources",
            country="CN",
            allegations=["passport_retention"],
        )
        for envelope in (vietnamese, chinese):
            publish(app, isa, envelope)
        sign_in(browser, world.person(isa.agency, "liaison"))
        common = {"purpose": "visa_screening", "publisher": isa.agency}
        assert set(result_links(search(browser, **common)[1])) == {
            vietnamese["id"],
            chinese["id"],
        }
        assert result_links(search(browser, **common, country="CN")[1]) == [chinese["id"]]
        assert result_links(search(browser, **common, allegation="passport_retention")[1]) == [
            chinese["id"]
        ]
        assert result_links(search(browser, **common, type="school")[1]) == []
        assert result_links(search(browser, **common, status="withdrawn")[1]) == []
        html = search(browser, **common, country="CN")[1]
        # Codes are shown with their names, never alone.
        assert "China (CN)" in html or "中国 (CN)" in html

    def test_pagination_by_cursor(self, app: Flask, world: World, browser: Browser) -> None:
        mofa = world.agency("mofa")
        published = [broker(mofa, f"Paged Broker {n}") for n in range(53)]
        client = app.test_client()
        response = client.post(
            "/api/v1/records",
            json={"records": [mofa.submission(e) for e in published]},
            environ_base=mofa.environ(),
        )
        assert response.status_code == 201
        sign_in(browser, world.person(mofa.agency, "liaison"))
        html = search(browser, purpose="statistics", publisher=mofa.agency)[1]
        first = result_links(html)
        assert len(first) == 50
        found = re.search(r'href="(/search\?[^"]+)" rel="next"', html)
        assert found
        following = found.group(1).replace("&amp;", "&")
        arguments = parse_qs(urlsplit(following).query)
        assert arguments["purpose"] == ["statistics"] and "cursor" in arguments
        html = browser.get(following).get_data(as_text=True)
        second = result_links(html)
        assert len(second) == 3 and not set(first) & set(second)
        assert set(first) | set(second) == {e["id"] for e in published}
        assert 'rel="next"' not in html

    def test_a_page_costs_the_same_queries_however_many_results(
        self, app: Flask, world: World, browser: Browser
    ) -> None:
        mofa = world.agency("mofa")
        published = [broker(mofa, f"Counted Broker {n}") for n in range(50)]
        response = app.test_client().post(
            "/api/v1/records",
            json={"records": [mofa.submission(e) for e in published[:49]]},
            environ_base=mofa.environ(),
        )
        assert response.status_code == 201
        publish(app, mofa, published[49])
        sign_in(browser, world.person(mofa.agency, "liaison"))
        statements: list[str] = []

        def count(*arguments: Any) -> None:
            statements.append(arguments[2])

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            common = {"purpose": "statistics", "publisher": mofa.agency}
            assert len(result_links(search(browser, **common, q="Counted Broker")[1])) == 50
            full = len(statements)
            statements.clear()
            assert len(result_links(search(browser, **common, q="Counted Broker 49")[1])) == 1
            # A page that the newest records do not fill asks the text index once more for
            # older ones (exchange.records.reading); never once per result.
            assert full <= len(statements) <= full + 1
        finally:
            event.remove(engine, "before_cursor_execute", count)

    def test_invalid_filters_are_refused_with_reasons(self, world: World, browser: Browser) -> None:
        isa = world.agency("immigration")
        sign_in(browser, world.person(isa.agency, "liaison"))
        status, html, _ = search(
            browser, purpose="audit", country="XX", issued_from="2026-02-01", issued_to="2026-01-01"
        )
        assert status == 422
        assert 'aria-invalid="true"' in html and "Must not be before the first day." in html


class TestPolicy:
    def test_a_record_the_policy_withholds_is_not_found(
        self, app: Flask, world: World, browser: Browser
    ) -> None:
        police, labour = world.agency("police"), world.agency("labour")
        envelope = police.envelope("school")
        publish(app, police, envelope)
        name = envelope["payload"]["school"]["name"]
        sign_in(browser, world.person(labour.agency, "liaison"))
        html = search(browser, purpose="labour_inspection", publisher=police.agency)[1]
        assert envelope["id"] not in html and name not in html
        response = browser.get(f"/records/{envelope['id']}?purpose=labour_inspection")
        assert response.status_code == 403
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "record.read" and entry["purpose"] == "labour_inspection"
        assert entry["status"] == 403
