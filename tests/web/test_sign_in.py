"""Signing in to the web UI: password then TOTP, throttling, sessions that end on the server."""

from __future__ import annotations

import itertools
import re
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pyotp
import pytest
from flask import Flask
from sqlalchemy import select, update
from werkzeug.test import TestResponse

from exchange.auth import views as auth_views
from exchange.auth.models import User, WebSession
from exchange.auth.service import ADDRESS_LIMIT, MAX_FAILURES
from exchange.clock import utcnow
from exchange.extensions import db
from tests.exchange.helpers import audit_entry
from tests.factories import Person, World
from tests.web.pages import Browser, held_session

# Sign-in failures count per client address; each test fails from an address of its own,
# so that it throttles neither the other tests nor itself by accident.
_addresses = itertools.count(1)
_NETWORK = secrets.randbelow(200) + 20


@pytest.fixture()
def fresh_address() -> Callable[[], str]:
    def make() -> str:
        n = next(_addresses)
        return f"10.{_NETWORK}.{n // 250}.{n % 250 + 1}"

    return make


@pytest.fixture()
def officer(world: World) -> Person:
    return world.person(world.agency("police").agency, "liaison")


def entry_of(app: Flask, response: TestResponse) -> dict[str, Any]:
    return audit_entry(app, response.headers["Exchange-Request-Id"])


def signed_in(browser: Browser) -> bool:
    response = browser.get("/")
    return response.status_code == 200


def session_row(app: Flask, person: Person) -> WebSession:
    with app.app_context():
        row = db.session.scalars(
            select(WebSession)
            .join(User, User.id == WebSession.user_id)
            .where(User.username == person.username)
            .order_by(WebSession.created_at.desc())
        ).first()
        assert row is not None
        db.session.expunge(row)
        return row


def move_session(app: Flask, person: Person, **columns: object) -> None:
    """Age the person's latest session in the database, as the passing hours would."""
    token_hash = session_row(app, person).token_hash
    with app.app_context():
        db.session.execute(
            update(WebSession).where(WebSession.token_hash == token_hash).values(**columns)
        )
        db.session.commit()


def wrong_password(browser: Browser, username: str) -> TestResponse:
    browser.get("/login")
    return browser.post("/login", {"username": username, "password": "not the password at all"})


def enter_password(browser: Browser, person: Person) -> TestResponse:
    browser.get("/login")
    return browser.post("/login", {"username": person.username, "password": person.password})


def enter_code(browser: Browser, code: str) -> TestResponse:
    browser.get("/login/code")
    return browser.post("/login/code", {"code": code})


class TestPasswordThenCode:
    def test_sign_in_takes_both_factors(self, app: Flask, officer: Person) -> None:
        browser = Browser(app)
        response = enter_password(browser, officer)
        assert response.status_code == 302
        assert response.headers["Location"] == "/login/code"
        assert entry_of(app, response)["action"] == "auth.login.password"
        # The password alone opens nothing.
        assert not signed_in(browser)
        response = enter_code(browser, officer.code())
        assert response.status_code == 302 and response.headers["Location"] == "/"
        entry = entry_of(app, response)
        assert entry["action"] == "auth.login"
        assert entry["details"] == {"user": officer.username}
        page = browser.get("/")
        assert page.status_code == 200
        assert f"{officer.username} 太郎" in page.get_data(as_text=True)

    def test_wrong_password(
        self, app: Flask, officer: Person, fresh_address: Callable[[], str]
    ) -> None:
        browser = Browser(app, address=fresh_address())
        response = wrong_password(browser, officer.username)
        assert response.status_code == 401
        entry = entry_of(app, response)
        assert entry["action"] == "auth.login.failed"
        assert entry["details"] == {"reason": "credentials_invalid", "user": officer.username}
        held = held_session(app, browser.cookie())
        assert "pending" not in held and "sid" not in held
        assert browser.get("/login/code").headers["Location"] == "/login"
        assert not signed_in(browser)

    def test_unknown_user_gets_the_same_answer(
        self, app: Flask, fresh_address: Callable[[], str]
    ) -> None:
        browser = Browser(app, address=fresh_address())
        response = wrong_password(browser, "nobody.here")
        assert response.status_code == 401
        assert entry_of(app, response)["details"] == {"reason": "credentials_invalid"}


class TestThrottling:
    def test_account_locks_after_five_failures(
        self, app: Flask, officer: Person, fresh_address: Callable[[], str]
    ) -> None:
        for _ in range(MAX_FAILURES):
            # From different addresses: the lock is the account's, not the address's.
            response = wrong_password(Browser(app, address=fresh_address()), officer.username)
            assert response.status_code == 401
        browser = Browser(app, address=fresh_address())
        response = enter_password(browser, officer)
        assert response.status_code == 401
        assert entry_of(app, response)["details"] == {
            "reason": "account_locked",
            "user": officer.username,
        }
        assert not signed_in(browser)

    def test_address_is_throttled_after_twenty_failures(
        self, app: Flask, world: World, fresh_address: Callable[[], str]
    ) -> None:
        address = fresh_address()
        browser = Browser(app, address=address)
        for n in range(ADDRESS_LIMIT):
            response = wrong_password(browser, f"guess{n}")
            assert response.status_code == 401
        # Even the right password of a real account is refused from that address now.
        officer = world.person(world.agency("police").agency, "liaison")
        response = enter_password(browser, officer)
        assert response.status_code == 429
        assert entry_of(app, response)["details"] == {"reason": "address_throttled"}
        # Another address is not affected.
        Browser(app, address=fresh_address()).sign_in(officer)

    def test_code_cannot_be_used_twice(
        self, app: Flask, officer: Person, fresh_address: Callable[[], str]
    ) -> None:
        code = officer.code()
        first = Browser(app, address=fresh_address())
        enter_password(first, officer)
        assert enter_code(first, code).status_code == 302
        # Someone who saw the code over the officer's shoulder, within the same 30 seconds.
        second = Browser(app, address=fresh_address())
        enter_password(second, officer)
        response = enter_code(second, code)
        assert response.status_code == 401
        assert entry_of(app, response)["details"] == {
            "reason": "second_factor_invalid",
            "user": officer.username,
        }
        assert not signed_in(second)

    def test_code_from_three_steps_ago_is_refused(
        self, app: Flask, officer: Person, fresh_address: Callable[[], str]
    ) -> None:
        stale = officer.code(-3)
        if stale in {officer.code(step) for step in (-1, 0, 1)}:
            pytest.skip("the old code happens to equal a current one")
        browser = Browser(app, address=fresh_address())
        enter_password(browser, officer)
        response = enter_code(browser, stale)
        assert response.status_code == 401
        assert not signed_in(browser)
        # The pending password step survives one wrong code: the right one still works.
        assert enter_code(browser, officer.code()).status_code == 302


class TestSessionEnds:
    def test_idle_timeout(self, app: Flask, browser: Browser, officer: Person) -> None:
        browser.sign_in(officer)
        assert signed_in(browser)
        idle = timedelta(minutes=app.config["EXCHANGE_UI_IDLE_MINUTES"] + 1)
        move_session(app, officer, last_seen_at=utcnow() - idle)
        response = browser.get("/")
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")
        assert session_row(app, officer).ended_at is not None
        assert "sid" not in held_session(app, browser.cookie())

    def test_the_sign_in_page_says_the_session_ended(
        self, app: Flask, browser: Browser, officer: Person
    ) -> None:
        browser.sign_in(officer)
        browser.get("/")
        browser.post("/language", {"lang": "en", "next": "/"})
        idle = timedelta(minutes=app.config["EXCHANGE_UI_IDLE_MINUTES"] + 1)
        move_session(app, officer, last_seen_at=utcnow() - idle)
        response = browser.get("/search?q=x")
        page = browser.get(response.headers["Location"]).get_data(as_text=True)
        assert "Your session ended" in page and 'role="status"' in page
        # Said once: a later visit to the sign-in page is a plain one.
        assert "Your session ended" not in browser.get("/login").get_data(as_text=True)
        # A browser that never signed in is not told a session ended.
        fresh = Browser(app)
        redirected = fresh.get("/search")
        assert "Your session ended" not in fresh.get(redirected.headers["Location"]).get_data(
            as_text=True
        )

    def test_absolute_lifetime(self, app: Flask, browser: Browser, officer: Person) -> None:
        browser.sign_in(officer)
        lifetime = timedelta(hours=app.config["EXCHANGE_UI_SESSION_HOURS"], minutes=1)
        # Active all along: the lifetime ends it however recently it was used.
        move_session(app, officer, created_at=utcnow() - lifetime, last_seen_at=utcnow())
        response = browser.get("/")
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")

    def test_sign_out_ends_the_session_on_the_server(
        self, app: Flask, browser: Browser, officer: Person
    ) -> None:
        browser.sign_in(officer)
        browser.get("/")
        old_cookie = browser.cookie()
        assert old_cookie
        response = browser.post("/logout")
        assert response.status_code == 302 and response.headers["Location"] == "/login"
        assert entry_of(app, response)["action"] == "auth.logout"
        assert not signed_in(browser)
        # Someone who copied the cookie before sign-out replays it.
        replay = Browser(app)
        replay.client.set_cookie("__Host-exchange", old_cookie, domain="127.0.0.1")
        response = replay.get("/")
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")
        assert session_row(app, officer).ended_at is not None

    def test_disabled_user_is_signed_out(
        self, app: Flask, browser: Browser, officer: Person, fresh_address: Callable[[], str]
    ) -> None:
        browser.sign_in(officer)
        with app.app_context():
            db.session.execute(
                update(User).where(User.username == officer.username).values(disabled_at=utcnow())
            )
            db.session.commit()
        response = browser.get("/")
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")
        again = Browser(app, address=fresh_address())
        response = enter_password(again, officer)
        assert response.status_code == 401
        assert entry_of(app, response)["details"] == {
            "reason": "account_disabled",
            "user": officer.username,
        }

    def test_password_step_expires(
        self,
        app: Flask,
        browser: Browser,
        officer: Person,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        enter_password(browser, officer)
        browser.get("/login/code")
        later = time.time() + auth_views.PENDING_SECONDS + 1
        monkeypatch.setattr(auth_views, "time", SimpleNamespace(time=lambda: later))
        response = browser.post("/login/code", {"code": officer.code()})
        assert response.status_code == 302 and response.headers["Location"] == "/login"
        assert not signed_in(browser)


class TestEnrolment:
    def test_new_user_enrols_then_signs_in_with_codes(
        self, app: Flask, world: World, fresh_address: Callable[[], str]
    ) -> None:
        newcomer = world.person(world.agency("labour").agency, "liaison", enrolled=False)
        browser = Browser(app, address=fresh_address())
        response = enter_password(browser, newcomer)
        assert response.headers["Location"] == "/login/enrol"
        # Nothing is open before the second factor is set up.
        assert not signed_in(browser)
        page = browser.get("/login/enrol").get_data(as_text=True)
        found = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page)
        assert found, page
        assert 'src="data:image/svg+xml' in page
        totp = pyotp.TOTP(found.group(1))

        wrong = f"{(int(totp.now()) + 1) % 1_000_000:06d}"
        response = browser.post("/login/enrol", {"code": wrong})
        assert response.status_code == 401
        assert entry_of(app, response)["details"] == {
            "reason": "enrolment_code_invalid",
            "user": newcomer.username,
        }
        # The same key is shown again after a wrong code: the app already holds it.
        assert found.group(1) in response.get_data(as_text=True)

        response = browser.post("/login/enrol", {"code": totp.now()})
        assert response.status_code == 302 and response.headers["Location"] == "/"
        assert entry_of(app, response)["action"] == "auth.totp.enrolled"
        assert signed_in(browser)

        # From now on the password leads to the code, not to a new enrolment.
        later = Browser(app, address=fresh_address())
        response = enter_password(later, newcomer)
        assert response.headers["Location"] == "/login/code"
        assert later.get("/login/enrol").headers["Location"] == "/login"
