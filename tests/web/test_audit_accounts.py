"""Failed sign-ins found by the account they tried: in the trail, its filter and the patterns."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Flask

from exchange.auth.models import User
from exchange.extensions import db
from tests.factories import Person, World
from tests.web.pages import Browser
from tests.web.test_audit_pages import integrate, leaf_of, table


def _network() -> str:
    return f"10.{secrets.randbelow(200) + 20}.{secrets.randbelow(250)}"


def fail_sign_in(app: Flask, username: str, address: str) -> str:
    browser = Browser(app, address=address)
    browser.get("/login")
    response = browser.post("/login", {"username": username, "password": "not the password"})
    assert response.status_code == 401
    return str(response.headers["Exchange-Request-Id"])


def unlock(app: Flask, person: Person) -> None:
    with app.app_context():
        user = db.session.query(User).filter_by(username=person.username).one()
        user.failed_logins, user.locked_until = 0, None
        db.session.commit()
        db.session.remove()


class TestTrailByAccount:
    def test_a_failed_sign_in_is_in_the_trail_of_the_account_it_tried(
        self, app: Flask, world: World, audit_browser: Browser
    ) -> None:
        target = world.person(world.agency("police").agency, "liaison")
        failed = fail_sign_in(app, target.username, f"{_network()}.1")
        unlock(app, target)
        integrate(app)
        page = audit_browser.get(f"/audit?user={target.username}").get_data(as_text=True)
        rows = table(page)
        assert f"#{leaf_of(app, failed)}" in rows
        assert "Failed sign-in" in rows
        # The actor is still unidentified; the account is named beside it, as a link.
        assert "Unidentified" in rows and f'href="/audit?user={target.username}"' in rows

    def test_attempts_on_an_account_are_counted_across_addresses(
        self, app: Flask, world: World, audit_browser: Browser, monkeypatch: Any
    ) -> None:
        monkeypatch.setitem(app.config, "EXCHANGE_AUDIT_REPEATED_DENIALS", 3)
        target = world.person(world.agency("police").agency, "liaison")
        network = _network()
        for host in (1, 2, 3):
            fail_sign_in(app, target.username, f"{network}.{host}")
        unlock(app, target)
        integrate(app)
        page = audit_browser.get("/audit/patterns").get_data(as_text=True)
        denials = page[page.index('id="denials"') :]
        assert "Sign-ins to account" in denials
        assert f"user={target.username}" in denials and "outcome=attempts" in denials
        assert f"{network}.1, {network}.2, {network}.3" in denials

    def test_an_address_flag_names_the_accounts_it_tried(
        self, app: Flask, world: World, audit_browser: Browser, monkeypatch: Any
    ) -> None:
        monkeypatch.setitem(app.config, "EXCHANGE_AUDIT_REPEATED_DENIALS", 3)
        police = world.agency("police").agency
        first, second = world.person(police, "liaison"), world.person(police, "liaison")
        address = f"{_network()}.9"
        for person in (first, second, first):
            fail_sign_in(app, person.username, address)
        for person in (first, second):
            unlock(app, person)
        integrate(app)
        page = audit_browser.get("/audit/patterns").get_data(as_text=True)
        denials = page[page.index('id="denials"') :]
        flagged = denials[denials.index(address) :]
        flagged = flagged[: flagged.index("</tr>")]
        assert "Accounts tried:" in flagged
        assert first.username in flagged and second.username in flagged

    def test_one_account_tried_from_one_address_is_flagged_once(
        self, app: Flask, world: World, audit_browser: Browser, monkeypatch: Any
    ) -> None:
        monkeypatch.setitem(app.config, "EXCHANGE_AUDIT_REPEATED_DENIALS", 3)
        target = world.person(world.agency("police").agency, "liaison")
        address = f"{_network()}.7"
        for _ in range(3):
            fail_sign_in(app, target.username, address)
        unlock(app, target)
        integrate(app)
        page = audit_browser.get("/audit/patterns").get_data(as_text=True)
        denials = page[page.index('id="denials"') :]
        assert denials.count(f">{target.username}</a>") == 1
        assert f"<code>{address}</code>" not in denials
