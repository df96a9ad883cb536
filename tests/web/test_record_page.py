"""The record page: purpose first, labels, signature status, history, related records."""

from __future__ import annotations

import random
import re
from datetime import timedelta
from typing import Any

from flask import Flask

from exchange.clock import utcnow
from exchange.extensions import db
from exchange.pki.service import revoke_signing_key
from schemas import corporate_number_check_digit
from tests.exchange.helpers import audit_entry
from tests.factories import OPERATOR, World, iso
from tests.web.pages import Browser
from tests.web.test_search_pages import broker, publish, sign_in


def corporate_number() -> str:
    body = f"{random.randint(0, 10**12 - 1):012d}"
    return f"{corporate_number_check_digit(body)}{body}"


def domestic_broker(agency: Any, name: str, number: str) -> dict[str, Any]:
    envelope = broker(
        agency,
        name,
        category="supervising_organisation",
        country="JP",
        corporate_number=number,
        licences=[{"kind": "supervising_organisation", "number": f"許{number[-10:]}"}],
        address={"prefecture": "08", "text": "水戸市笠原町1丁目"},
        measures=[
            {"kind": "improvement_order", "date": "2026-01-15", "authority": "otit"},
        ],
        narrative="技能実習生から過大な手数料を徴収していた。",
    )
    envelope["handling"] = dict(envelope["handling"], restrictions=["no_onward_sharing"])
    return envelope


def open_record(browser: Browser, record_id: str, purpose: str = "investigation") -> Any:
    return browser.get(f"/records/{record_id}", query_string={"purpose": purpose})


class TestPurposeFirst:
    def test_the_purpose_is_asked_before_anything_is_shown(
        self, app: Flask, world: World, browser: Browser
    ) -> None:
        isa = world.agency("immigration")
        envelope = broker(isa, "Minh Phat Trading and Services")
        publish(app, isa, envelope)
        sign_in(browser, world.person(isa.agency, "liaison"))
        response = browser.get(f"/records/{envelope['id']}")
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "Minh Phat" not in html and '<select id="purpose"' in html
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "record.purpose_prompt" and entry["targets"] == []

        response = open_record(browser, envelope["id"], "curiosity")
        assert response.status_code == 422

        response = open_record(browser, envelope["id"], "visa_screening")
        assert response.status_code == 200 and "Minh Phat" in response.get_data(as_text=True)
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "record.read" and entry["purpose"] == "visa_screening"
        assert {"id": envelope["id"], "version": 1} in entry["targets"]

    def test_an_unknown_record_is_a_404_page_and_audited(
        self, app: Flask, world: World, browser: Browser
    ) -> None:
        isa = world.agency("immigration")
        sign_in(browser, world.person(isa.agency, "liaison"))
        response = open_record(browser, "0193a1b2-7c1d-7e00-8a00-000000000000")
        assert response.status_code == 404 and "text/html" in response.content_type
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "record.read" and entry["purpose"] == "investigation"


class TestContent:
    def test_labels_not_keys(self, app: Flask, world: World, browser: Browser) -> None:
        otit = world.agency("otit")
        envelope = domestic_broker(otit, "水戸国際協同組合", corporate_number())
        publish(app, otit, envelope)
        sign_in(browser, world.person(otit.agency, "liaison"))
        html = open_record(browser, envelope["id"]).get_data(as_text=True)
        body = html.split('<main id="main">', 1)[1]
        for label in (
            "Corporate number",
            "Supervising organisation licence",
            "Excessive fees",
            "Technical intern training",
            "Trainee hearing",
            "Improvement order",
            "Measures taken",
            "No onward sharing",
        ):
            assert label in body, label
        assert "Ibaraki (08)" in body or "茨城県 (08)" in body
        assert "Japan (JP)" in body or "日本 (JP)" in body
        for key in ("corporate_number", "excessive_fees", "technical_intern", "improvement_order"):
            assert key not in body, key

    def test_stored_script_is_escaped(self, app: Flask, world: World, browser: Browser) -> None:
        isa = world.agency("immigration")
        envelope = broker(isa, "<script>alert(1)</script>", aliases=['"><img src=x>'])
        publish(app, isa, envelope)
        sign_in(browser, world.person(isa.agency, "liaison"))
        for html in (
            open_record(browser, envelope["id"]).get_data(as_text=True),
            browser.get(
                "/search", query_string={"purpose": "investigation", "publisher": isa.agency}
            ).get_data(as_text=True),
        ):
            assert "<script>alert(1)</script>" not in html
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
            assert "<img src=x>" not in html

    def test_a_withdrawn_record_shows_as_withdrawn(
        self, app: Flask, world: World, browser: Browser
    ) -> None:
        isa = world.agency("immigration")
        envelope = broker(isa, "Withdrawn Manpower JSC")
        publish(app, isa, envelope)
        withdrawal = dict(
            envelope,
            version=2,
            status="withdrawn",
            reason="重複登録のため取り下げ",
            issued_at=iso(utcnow()),
        )
        publish(app, isa, withdrawal)
        sign_in(browser, world.person(isa.agency, "liaison"))
        html = open_record(browser, envelope["id"]).get_data(as_text=True)
        assert "This record was withdrawn by its publisher" in html
        assert "重複登録のため取り下げ" in html


class TestSignature:
    def test_verified_with_the_agency_key(self, app: Flask, world: World, browser: Browser) -> None:
        mofa = world.agency("mofa", algorithm="ES256")
        envelope = broker(mofa, "Verified Broker Co.")
        publish(app, mofa, envelope)
        sign_in(browser, world.person(mofa.agency, "liaison"))
        html = open_record(browser, envelope["id"]).get_data(as_text=True)
        assert '<span class="badge ok">Verified</span>' in html
        assert mofa.kid in html and "ES256" in html
        assert "JST" in html and "revoked" not in html.lower()

    def test_a_key_revoked_as_compromised_is_warned_about(
        self, app: Flask, world: World, browser: Browser
    ) -> None:
        police, reader = world.agency("police"), world.agency("immigration")
        envelope = broker(police, "Compromised Key Broker")
        publish(app, police, envelope)
        with app.app_context():
            revoke_signing_key(
                actor=OPERATOR, kid=police.kid, compromised_at=utcnow() - timedelta(hours=2)
            )
            db.session.commit()
        sign_in(browser, world.person(reader.agency, "liaison"))
        html = open_record(browser, envelope["id"]).get_data(as_text=True)
        assert "Warning: the key that signed this version was revoked as compromised." in html
        assert "Key compromised" in html
        search = browser.get(
            "/search", query_string={"purpose": "investigation", "publisher": police.agency}
        ).get_data(as_text=True)
        assert "Signing key compromised" in search


class TestHistory:
    def test_an_amendment_shows_what_changed(
        self, app: Flask, world: World, browser: Browser
    ) -> None:
        isa = world.agency("immigration")
        envelope = broker(isa, "Sao Viet Labour Export JSC")
        publish(app, isa, envelope)
        amended = dict(
            envelope,
            version=2,
            issued_at=iso(utcnow()),
            payload=envelope["payload"]
            | {"allegations": ["excessive_fees", "passport_retention"], "country": "LA"},
        )
        publish(app, isa, amended)
        sign_in(browser, world.person(isa.agency, "liaison"))
        response = open_record(browser, envelope["id"])
        html = response.get_data(as_text=True)
        history = html.split('id="history-heading"', 1)[1].split("</section>", 1)[0]
        assert re.search(
            r"<strong>Allegations</strong>:\s*added <ins>Passport retention</ins>", history
        )
        assert re.search(
            r"<strong>Country</strong>:\s*<del>Vietnam \(VN\)</del> → <ins>Laos \(LA\)</ins>",
            history,
        )
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert {"id": envelope["id"], "version": 1} in entry["targets"]
        assert {"id": envelope["id"], "version": 2} in entry["targets"]
        older = browser.get(
            f"/records/{envelope['id']}", query_string={"purpose": "investigation", "version": "1"}
        ).get_data(as_text=True)
        assert "You are viewing version 1" in older


class TestRelated:
    def test_other_agencies_records_about_the_same_organisation(
        self, app: Flask, world: World, browser: Browser
    ) -> None:
        otit, labour, isa = (
            world.agency("otit"),
            world.agency("labour"),
            world.agency("immigration"),
        )
        number = corporate_number()
        own = domestic_broker(otit, "常陸人材協同組合", number)
        publish(app, otit, own)
        case = labour.envelope("illegal_employment")
        case["payload"]["employer"] = {
            "name": "株式会社ひたち農園",
            "corporate_number": number,
            "prefecture": "08",
            "industry": "agriculture",
        }
        publish(app, labour, case)
        namesake = broker(isa, "HOA BINH MANPOWER", country="VN")
        original = broker(otit, "Hoa Binh Manpower", country="VN")
        elsewhere = broker(isa, "Hoa Binh Manpower", country="KH")
        publish(app, otit, original)
        for envelope in (namesake, elsewhere):
            publish(app, isa, envelope)
        sign_in(browser, world.person(isa.agency, "liaison"))

        html = open_record(browser, own["id"]).get_data(as_text=True)
        others = html.split('id="others-heading"', 1)[1]
        assert case["id"] in others and "Same corporate number" in others

        response = open_record(browser, original["id"])
        others = response.get_data(as_text=True).split('id="others-heading"', 1)[1]
        assert namesake["id"] in others and "Same name and country" in others
        assert elsewhere["id"] not in others
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert {"id": namesake["id"], "version": 1} in entry["targets"]

    def test_related_records_respect_the_policy(
        self, app: Flask, world: World, browser: Browser
    ) -> None:
        police, labour = world.agency("police"), world.agency("labour")
        number = corporate_number()
        employer = labour.envelope("illegal_employment")
        employer["payload"]["employer"] = {
            "name": "株式会社つくば日本語学院",
            "corporate_number": number,
            "prefecture": "08",
            "industry": "other",
        }
        publish(app, labour, employer)
        school = police.envelope("school")
        school["payload"]["school"] = dict(
            school["payload"]["school"], operator_corporate_number=number
        )
        publish(app, police, school)
        sign_in(browser, world.person(labour.agency, "liaison"))
        html = open_record(browser, employer["id"], "labour_inspection").get_data(as_text=True)
        assert school["id"] not in html

    def test_linked_broker_record(self, app: Flask, world: World, browser: Browser) -> None:
        isa = world.agency("immigration")
        linked = broker(isa, "Linked Broker Co.")
        publish(app, isa, linked)
        case = isa.envelope("illegal_employment")
        case["payload"]["brokers"] = [
            {"name": "Linked Broker Co.", "broker_record_id": linked["id"]}
        ]
        case["links"] = [{"rel": "broker", "id": linked["id"]}]
        publish(app, isa, case)
        sign_in(browser, world.person(isa.agency, "liaison"))
        html = open_record(browser, case["id"]).get_data(as_text=True)
        section = html.split('id="linked-heading"', 1)[1].split("</section>", 1)[0]
        assert f"/records/{linked['id']}?purpose=investigation" in section
        assert "Linked Broker Co." in section
