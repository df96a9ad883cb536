"""Subscription pages: an officer manages their own agency's subscriptions, no other's."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import select

from exchange.clock import utcnow
from exchange.extensions import db
from exchange.feeds.models import DeadLetter, Subscription
from tests.exchange.helpers import audit_entry
from tests.factories import AgencySystem, World
from tests.web.pages import Browser
from tests.web.test_search_pages import sign_in


def subscription_ids(html: str) -> list[str]:
    return re.findall(r'href="/subscriptions/([0-9a-f-]{36})"', html)


def create(browser: Browser, agency: AgencySystem, **fields: object) -> str:
    """Create a subscription through the form; its id."""
    html = browser.get("/subscriptions/new").get_data(as_text=True)
    system = re.search(r'<option value="(\d+)">gateway</option>', html)
    assert system, html
    form: dict[str, object] = {
        "name": "不法就労の通報",
        "system": system.group(1),
        "types": ["broker"],
        "mode": "pull",
    } | fields
    response = browser.post("/subscriptions/new", form)
    assert response.status_code == 302, response.get_data(as_text=True)
    subscription_id = response.headers["Location"].rsplit("/", 1)[-1]
    entry = audit_entry(browser.client.application, response.headers["Exchange-Request-Id"])
    assert entry["action"] == "subscription.create"
    assert entry["details"]["subscription"] == subscription_id
    assert entry["details"]["system"] == "gateway"
    assert entry["actor"]["user"] and entry["actor"]["agency"] == agency.agency
    return subscription_id


class TestSubscriptions:
    def test_create_list_pause_resume_delete(
        self, app: Flask, world: World, browser: Browser
    ) -> None:
        isa = world.agency("immigration")
        sign_in(browser, world.person(isa.agency, "liaison"))
        assert "no subscriptions yet" in browser.get("/subscriptions").get_data(as_text=True)
        subscription_id = create(
            browser,
            isa,
            types=["broker", "illegal_employment"],
            country=["VN", "MM"],
            allegation=["passport_retention"],
            mode="push",
            endpoint="https://gateway.isa.example.jp/exchange/events",
        )
        html = browser.get("/subscriptions").get_data(as_text=True)
        assert subscription_ids(html) == [subscription_id]
        assert "Vietnam (VN)" in html and "Passport retention" in html
        assert "https://gateway.isa.example.jp/exchange/events" in html
        assert "country" not in re.sub(r"<[^>]+>", "", html.split('<main id="main">')[1])

        browser.get(f"/subscriptions/{subscription_id}")
        response = browser.post(f"/subscriptions/{subscription_id}/pause")
        assert response.status_code == 302
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "subscription.update"
        assert entry["details"] == {"subscription": subscription_id, "state": "paused"}
        html = browser.get(f"/subscriptions/{subscription_id}").get_data(as_text=True)
        assert "Paused" in html and "Resume" in html
        assert browser.post(f"/subscriptions/{subscription_id}/resume").status_code == 302

        html = browser.get(f"/subscriptions/{subscription_id}/delete").get_data(as_text=True)
        assert "Delete the subscription" in html and "data-confirm" in html
        response = browser.post(f"/subscriptions/{subscription_id}/delete")
        assert response.status_code == 302
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "subscription.delete"
        assert entry["details"]["subscription"] == subscription_id
        assert subscription_ids(browser.get("/subscriptions").get_data(as_text=True)) == []

    def test_invalid_forms_say_why(self, world: World, browser: Browser) -> None:
        labour = world.agency("labour")
        sign_in(browser, world.person(labour.agency, "liaison"))
        html = browser.get("/subscriptions/new").get_data(as_text=True)
        system = re.search(r'<option value="(\d+)">gateway</option>', html)
        assert system
        base = {"name": "school feed", "system": system.group(1), "mode": "pull"}
        response = browser.post("/subscriptions/new", base | {"types": ["school"]})
        assert response.status_code == 422
        assert "may not subscribe" in response.get_data(as_text=True)
        response = browser.post(
            "/subscriptions/new",
            base | {"types": ["broker"], "mode": "push", "endpoint": "http://plain.example.jp/"},
        )
        assert response.status_code == 422
        assert "https" in response.get_data(as_text=True)
        response = browser.post("/subscriptions/new", base)
        assert response.status_code == 422
        assert "Choose at least one record type." in response.get_data(as_text=True)

    def test_redrive_dead_letters(self, app: Flask, world: World, browser: Browser) -> None:
        otit = world.agency("otit")
        sign_in(browser, world.person(otit.agency, "liaison"))
        subscription_id = create(
            browser, otit, mode="push", endpoint="https://otit.example.jp/hook"
        )
        with app.app_context():
            db.session.add(
                DeadLetter(
                    subscription_id=subscription_id,
                    position=1,
                    state="parked",
                    attempts=8,
                    reason="connection refused",
                    parked_at=utcnow(),
                )
            )
            db.session.commit()
        html = browser.get("/subscriptions").get_data(as_text=True)
        assert '<span class="badge bad">1</span>' in html
        html = browser.get(f"/subscriptions/{subscription_id}").get_data(as_text=True)
        assert "connection refused" in html
        response = browser.post(f"/subscriptions/{subscription_id}/redrive")
        assert response.status_code == 302
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "subscription.redrive"
        assert entry["details"] == {"subscription": subscription_id, "redriven": 1}
        with app.app_context():
            states = db.session.scalars(
                select(DeadLetter.state).where(DeadLetter.subscription_id == subscription_id)
            ).all()
        assert states == ["redriving"]

    def test_another_agencys_subscription_is_out_of_reach(
        self, app: Flask, world: World, browser: Browser
    ) -> None:
        isa, police = world.agency("immigration"), world.agency("police")
        sign_in(browser, world.person(isa.agency, "liaison"))
        theirs = create(browser, isa)
        intruder = Browser(app)
        sign_in(intruder, world.person(police.agency, "liaison"))
        assert theirs not in intruder.get("/subscriptions").get_data(as_text=True)
        assert intruder.get(f"/subscriptions/{theirs}").status_code == 404
        assert intruder.get(f"/subscriptions/{theirs}/delete").status_code == 404
        intruder.get("/subscriptions")
        for action in ("pause", "delete", "redrive"):
            response = intruder.post(f"/subscriptions/{theirs}/{action}")
            assert response.status_code == 404, action
            entry = audit_entry(app, response.headers["Exchange-Request-Id"])
            assert entry["outcome"] != "ok" and entry["details"]["subscription"] == theirs
        # A system of another agency cannot be chosen either.
        html = intruder.get("/subscriptions/new").get_data(as_text=True)
        with app.app_context():
            subscription = db.session.get(Subscription, theirs)
            assert subscription is not None and subscription.state == "active"
            foreign_system = subscription.system_id
        response = intruder.post(
            "/subscriptions/new",
            {"name": "x", "system": str(foreign_system), "types": ["broker"], "mode": "pull"},
            csrf=True,
        )
        assert response.status_code == 422
        assert html

    def test_only_liaison_officers(self, world: World, browser: Browser) -> None:
        isa = world.agency("immigration")
        sign_in(browser, world.person(isa.agency, "auditor"))
        assert browser.get("/subscriptions").status_code == 403
