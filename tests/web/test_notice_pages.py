"""The notice pages: four eyes in the web UI, signed with the agency's custodial key."""

from __future__ import annotations

import json
import re

from flask import Flask
from sqlalchemy import select

from exchange.extensions import db
from exchange.notices.models import NoticeStep, NoticeVersion
from exchange.pki.models import SigningKey
from tests.exchange.helpers import audit_entry
from tests.factories import AgencySystem, World
from tests.web.pages import Browser

BROKER = "ホーチミン人材開発株式会社"


def _publish(app: Flask, system: AgencySystem) -> dict[str, object]:
    payload = {
        "name": BROKER,
        "name_latin": "HCMC Manpower Development JSC",
        "category": "sending_organisation",
        "country": "VN",
        "programmes": ["technical_intern"],
        "allegations": ["excessive_fees"],
        "sources": ["trainee_hearing"],
        "narrative": "実習生Aの供述による。",
    }
    envelope = system.envelope("broker", payload=payload, links=[])
    response = app.test_client().post(
        "/api/v1/records", json=system.submission(envelope), environ_base=system.environ()
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return envelope


def _draft(browser: Browser, record_id: str) -> str:
    browser.get("/notices/new?country=VN")
    assert BROKER in browser.last.get_data(as_text=True)  # type: ignore[union-attr]
    response = browser.post(
        "/notices/new?country=VN",
        {
            "brokers": record_id,
            "fields": ["name", "category", "allegations"],
            "request_ja": "厳正な対応を申し入れます。\r\n回答を求めます。",
            "request_en": "Strict action is requested.",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    location = response.headers["Location"]
    found = re.search(r"/notices/([0-9a-f-]{36})$", location)
    assert found, location
    return found.group(1)


class TestFourEyesInTheWebUI:
    def test_who_drafts_never_approves(self, app: Flask, world: World) -> None:
        otit = world.agency("otit")
        record = _publish(app, otit)
        both = world.person(otit.agency, "liaison", "approver")
        browser = Browser(app)
        browser.sign_in(both)
        notice_id = _draft(browser, str(record["id"]))

        page = browser.get(f"/notices/{notice_id}")
        assert page.status_code == 200
        form = browser.get(f"/notices/{notice_id}/edit")
        assert form.status_code == 200 and BROKER in form.get_data(as_text=True)
        assert audit_entry(app, form.headers["Exchange-Request-Id"])["action"] == "notice.form"
        browser.post(f"/notices/{notice_id}/submit")
        browser.get(f"/notices/{notice_id}")
        response = browser.post(f"/notices/{notice_id}/approve")
        assert response.status_code == 403
        assert "notice_self_approval" in response.get_data(as_text=True)
        request_id = response.headers["Exchange-Request-Id"]
        entry = audit_entry(app, request_id)
        assert entry["action"] == "notice.approve"
        assert entry["details"]["refused"] == "notice_self_approval"
        assert entry["actor"]["user"] == both.username

        with app.app_context():
            version = db.session.get(NoticeVersion, (notice_id, 1))
            assert version is not None
            document = json.loads(version.canonical)
            # Signed with the agency's custodial key, naming the person; CRLF kept as LF.
            key = db.session.get(SigningKey, version.kid)
            assert key is not None and key.custodial and key.agency_id == otit.agency
            steps = db.session.scalars(
                select(NoticeStep.step).where(NoticeStep.notice_id == notice_id)
            ).all()
        assert document["drafted_by"] == both.username
        assert document["request"]["ja"] == "厳正な対応を申し入れます。\n回答を求めます。"
        assert set(document["brokers"][0]["facts"]) == {"name", "category", "allegations"}
        assert steps == ["submission"]
