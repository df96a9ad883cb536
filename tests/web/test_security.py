"""The web UI against the usual attacks: CSRF, session fixation, open redirects, stored XSS,
pages opened by the wrong role; and the headers and cookie attributes that back them up."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlalchemy import update
from werkzeug.routing import IntegerConverter, Rule, UUIDConverter
from werkzeug.test import TestResponse

from exchange.auth.models import USER_ROLES, User
from exchange.extensions import db
from exchange.ui.access import PUBLIC, SIGNED_IN, enter_page
from tests.exchange.helpers import audit_entry
from tests.factories import Person, World
from tests.web.pages import BASE, Browser, held_session

MACHINE_PREFIXES = ("/api/", "/pki/", "/.well-known/", "/static/", "/taxii2/")
HOSTILE_MARKUP = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def entry_of(app: Flask, response: TestResponse) -> dict[str, Any]:
    return audit_entry(app, response.headers["Exchange-Request-Id"])


def signed_in(browser: Browser) -> bool:
    return browser.get("/").status_code == 200


def post_from(
    client: FlaskClient, path: str, data: dict[str, str], headers: dict[str, str]
) -> TestResponse:
    """A POST with exactly these headers: a form on another site, or a stripped Referer."""
    return client.post(
        path,
        base_url=BASE,
        data=data,
        headers={"Accept": "text/html", **headers},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )


@pytest.fixture()
def officer(world: World) -> Person:
    return world.person(world.agency("police").agency, "liaison")


class TestCrossSiteRequestForgery:
    def assert_refused(self, app: Flask, response: TestResponse) -> None:
        assert response.status_code == 400
        assert "csrf_invalid" in response.get_data(as_text=True)
        entry = entry_of(app, response)
        assert entry["action"] == "auth.denied"
        assert entry["details"]["reason"] == "csrf_invalid"

    def test_post_without_token_is_refused_and_changes_nothing(
        self, app: Flask, browser: Browser, officer: Person
    ) -> None:
        browser.sign_in(officer)
        self.assert_refused(app, browser.post("/logout", csrf=False))
        assert signed_in(browser)
        self.assert_refused(app, browser.post("/language", {"lang": "en"}, csrf=False))
        assert 'lang="ja"' in browser.get("/").get_data(as_text=True)

    def test_token_of_another_session_is_refused(
        self, app: Flask, world: World, browser: Browser, officer: Person
    ) -> None:
        attacker = Browser(app)
        attacker.sign_in(world.person(officer.agency, "liaison"))
        attacker_token = attacker.csrf(attacker.get("/").get_data(as_text=True))
        browser.sign_in(officer)
        browser.get("/")
        self.assert_refused(app, browser.post("/logout", {"csrf_token": attacker_token}))
        assert signed_in(browser)

    def test_cross_site_post_is_refused_though_it_carries_the_token(
        self, app: Flask, browser: Browser, officer: Person
    ) -> None:
        browser.sign_in(officer)
        token = browser.csrf(browser.get("/").get_data(as_text=True))
        form = {"csrf_token": token}
        # A browser that strips the Referer, then one that names the attacker's page.
        self.assert_refused(app, post_from(browser.client, "/logout", form, {}))
        self.assert_refused(
            app,
            post_from(browser.client, "/logout", form, {"Referer": "https://evil.example/x"}),
        )
        assert signed_in(browser)
        # The same token from this site's own page is accepted.
        assert browser.post("/logout", form).status_code == 302
        assert not signed_in(browser)


class TestSessionFixation:
    def test_cookie_from_before_sign_in_opens_nothing(
        self, app: Flask, browser: Browser, officer: Person
    ) -> None:
        browser.get("/login")
        # Something to remember in the anonymous session: the chosen language.
        browser.post("/language", {"lang": "en", "next": "/login"})
        before = browser.cookie()
        assert held_session(app, before).get("lang") == "en"
        assert "sid" not in held_session(app, before)

        browser.sign_in(officer)
        after = browser.cookie()
        assert after != before
        assert held_session(app, after).get("sid")
        assert held_session(app, after).get("lang") == "en"

        planted = Browser(app)
        planted.client.set_cookie("__Host-exchange", before or "", domain="127.0.0.1")
        assert not signed_in(planted)

    def test_planted_session_is_replaced_at_sign_in(
        self, app: Flask, world: World, officer: Person
    ) -> None:
        # The attacker signs in as themselves and plants their cookie in the victim's browser.
        attacker = Browser(app)
        attacker.sign_in(world.person(officer.agency, "liaison"))
        planted = attacker.cookie() or ""
        victim = Browser(app)
        victim.client.set_cookie("__Host-exchange", planted, domain="127.0.0.1")
        # The sign-in form is posted within the planted session, with its CSRF token.
        victim.get("/")
        victim.post("/login", {"username": officer.username, "password": officer.password})
        victim.get("/login/code")
        assert victim.post("/login/code", {"code": officer.code()}).status_code == 302
        assert held_session(app, victim.cookie())["sid"] != held_session(app, planted)["sid"]
        page = victim.get("/").get_data(as_text=True)
        assert officer.username in page
        # The attacker's own session is not the victim's.
        assert officer.username not in attacker.get("/").get_data(as_text=True)


def on_site(location: str) -> bool:
    parts = urlsplit(location)
    return (
        parts.scheme in ("", "https")
        and parts.netloc in ("", "127.0.0.1")
        and location.startswith("/")
        and not location.startswith("//")
        and "\\" not in location
    )


# As they appear in the query string, percent-encoded or not, the way an attacker sends them.
HOSTILE_TARGETS = [
    quote("https://evil.example/", safe=""),
    quote("//evil.example", safe=""),
    "//evil.example",
    quote("/\\evil.example", safe=""),
    "/\\evil.example",
    quote("javascript:alert(1)", safe=""),
    "%2F%2Fevil.example",
    "%252F%252Fevil.example",
    quote("/\t/evil.example", safe=""),
    quote("https:evil.example", safe=""),
]


class TestOpenRedirect:
    @pytest.mark.parametrize("target", HOSTILE_TARGETS)
    def test_sign_in_stays_on_site(self, app: Flask, world: World, target: str) -> None:
        person = world.person(world.agency("police").agency, "liaison")
        browser = Browser(app)
        response = browser.sign_in(person, next_path=target)
        assert on_site(response.headers["Location"]), response.headers["Location"]
        # Signed in already, the sign-in page forwards to ``next`` too: on site as well.
        again = browser.get(f"/login?next={target}")
        assert again.status_code == 302 and on_site(again.headers["Location"])
        browser.get("/")
        switched = browser.post("/language", {"lang": "en", "next": unquote(target)})
        assert switched.status_code == 302 and on_site(switched.headers["Location"])

    def test_a_path_on_site_is_kept(self, app: Flask, browser: Browser, officer: Person) -> None:
        response = browser.sign_in(officer, next_path=quote("/?from=mail", safe=""))
        assert response.headers["Location"] == "/?from=mail"


class TestStoredMarkup:
    def test_display_name_is_escaped(self, app: Flask, browser: Browser, officer: Person) -> None:
        with app.app_context():
            db.session.execute(
                update(User)
                .where(User.username == officer.username)
                .values(display_name=HOSTILE_MARKUP)
            )
            db.session.commit()
        browser.sign_in(officer)
        html = browser.get("/").get_data(as_text=True)
        assert "<script>alert(1)" not in html
        assert "<img src=x" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in html
        # The only scripts are the site's own files.
        scripts = re.findall(r"<script[^>]*>", html)
        assert len(scripts) == 1
        assert re.fullmatch(
            r'<script src="/static/exchange\.js\?v=[0-9a-f]{16}" defer>', scripts[0]
        )

    def test_record_name_is_escaped_on_results_and_record_page(
        self, app: Flask, world: World, browser: Browser
    ) -> None:
        police = world.agency("police")
        envelope = police.envelope("broker")
        envelope["payload"] = dict(envelope["payload"], name=HOSTILE_MARKUP, aliases=[])
        published = app.test_client().post(
            "/api/v1/records", json=police.submission(envelope), environ_base=police.environ()
        )
        assert published.status_code == 201, published.get_json()
        browser.sign_in(world.person(world.agency("immigration").agency, "liaison"))
        results = browser.get(f"/search?purpose=investigation&publisher={police.agency}")
        record = browser.get(f"/records/{envelope['id']}?purpose=investigation")
        for page in (results, record):
            assert page.status_code == 200
            html = page.get_data(as_text=True)
            assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in html
            assert "<script>alert" not in html and "<img src=x" not in html


# Files, not pages: the static folder, and its icon at the address browsers ask for.
STATIC_ENDPOINTS = ("static", "favicon")


def ui_rules(app: Flask) -> list[Rule]:
    return [
        rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in STATIC_ENDPOINTS and not rule.rule.startswith(MACHINE_PREFIXES)
    ]


def example_path(app: Flask, rule: Rule) -> str:
    """The rule's URL with made-up values: the role check comes before any lookup."""
    values: dict[str, Any] = {}
    for name, converter in rule._converters.items():
        if isinstance(converter, IntegerConverter):
            values[name] = 1
        elif isinstance(converter, UUIDConverter):
            values[name] = uuid.uuid4()
        else:
            values[name] = "unknown-1"
    with app.test_request_context(base_url=BASE):
        return url_for(rule.endpoint, **values)


def send(browser: Browser, method: str, path: str) -> TestResponse:
    if method == "GET":
        return browser.get(path)
    page = browser.get("/")
    if page.status_code != 200:
        page = browser.get("/login")
    token = browser.csrf(page.get_data(as_text=True))
    browser.last = browser.client.open(
        path,
        method=method,
        base_url=BASE,
        data={"csrf_token": token},
        headers={"Accept": "text/html", "Referer": f"{BASE}{path}"},
        environ_base={"REMOTE_ADDR": browser.address},
    )
    return browser.last


class TestAccessByRole:
    def test_every_page_declares_who_may_open_it(self, app: Flask) -> None:
        undeclared = []
        for rule in ui_rules(app):
            view = app.view_functions[rule.endpoint]
            blueprint = rule.endpoint.rpartition(".")[0] or None
            guarded = enter_page in app.before_request_funcs.get(blueprint, [])
            if getattr(view, "ui_access", None) is None or not guarded:
                undeclared.append(rule.rule)
        assert undeclared == [], "pages without @page or without enter_page"

    def test_pages_refuse_other_roles_and_signed_out_visitors(
        self, app: Flask, world: World
    ) -> None:
        agency = world.agency("police").agency
        people = {role: world.person(agency, role) for role in USER_ROLES}
        browsers: dict[str, Browser] = {}
        for role, person in people.items():
            browsers[role] = Browser(app)
            browsers[role].sign_in(person)
        signed_out = Browser(app)
        checked = 0
        for rule in ui_rules(app):
            access: frozenset[str] | None = getattr(
                app.view_functions[rule.endpoint], "ui_access", None
            )
            if access is None or access == PUBLIC:
                continue
            path = example_path(app, rule)
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                response = send(signed_out, method, path)
                assert response.status_code == 302, (method, path, response.status_code)
                assert response.headers["Location"].startswith("/login"), (method, path)
                if access == SIGNED_IN:
                    continue
                for role in sorted(set(USER_ROLES) - access):
                    response = send(browsers[role], method, path)
                    assert response.status_code == 403, (role, method, path)
                    assert entry_of(app, response)["details"]["reason"] == "role_required"
                    checked += 1
        assert checked > 0
        # Every browser is still signed in: a refusal does not end a session.
        assert all(signed_in(browser) for browser in browsers.values())


STRICT_POLICY = {
    "default-src": "'none'",
    "script-src": "'self'",
    "style-src": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
}


class TestHeaders:
    def assert_page_headers(self, response: TestResponse) -> None:
        headers = response.headers
        policy = dict(
            directive.strip().split(" ", 1)
            for directive in headers["Content-Security-Policy"].split(";")
        )
        for directive, value in STRICT_POLICY.items():
            assert policy.get(directive) == value, directive
        assert "unsafe-inline" not in headers["Content-Security-Policy"]
        assert "unsafe-eval" not in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        hsts = re.match(r"max-age=(\d+)", headers["Strict-Transport-Security"])
        assert hsts and int(hsts.group(1)) >= 31_536_000
        assert headers["Referrer-Policy"] in ("same-origin", "no-referrer", "strict-origin")
        assert "no-store" in headers["Cache-Control"]

    def test_pages_signed_out_signed_in_and_refused(
        self, app: Flask, browser: Browser, officer: Person
    ) -> None:
        self.assert_page_headers(browser.get("/login"))
        browser.sign_in(officer)
        self.assert_page_headers(browser.get("/"))
        refused = browser.post("/logout", csrf=False)
        assert refused.status_code == 400
        self.assert_page_headers(refused)
        missing = browser.get("/no-such-page")
        assert missing.status_code == 404
        assert "Content-Security-Policy" in missing.headers

    def test_session_cookie_attributes(self, app: Flask, officer: Person) -> None:
        browser = Browser(app)
        cookies = browser.get("/login").headers.getlist("Set-Cookie")
        browser.sign_in(officer)
        cookies += browser.last.headers.getlist("Set-Cookie") if browser.last else []
        assert len(cookies) >= 2
        for cookie in cookies:
            name, _, attributes = cookie.partition(";")
            assert name.startswith("__Host-exchange=")
            flags = {a.strip().split("=")[0].lower(): a.strip() for a in attributes.split(";")}
            assert "secure" in flags and "httponly" in flags
            assert flags["samesite"].lower() == "samesite=lax"
            assert flags["path"] == "Path=/"
            assert "domain" not in flags
