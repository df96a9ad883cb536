"""Driving the web UI with Flask's test client, over https as the real listener serves it."""

from __future__ import annotations

import re
from typing import Any, cast

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.factories import Person

BASE = "https://127.0.0.1"
_CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


class Browser:
    """A test client that sends what a browser sends: https, Accept: text/html, the cookie."""

    def __init__(self, app: Flask, address: str = "127.0.0.1") -> None:
        self.client: FlaskClient = app.test_client()
        self.address = address
        self.last: TestResponse | None = None

    def _environ(self) -> dict[str, Any]:
        return {"REMOTE_ADDR": self.address}

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        self.last = self.client.get(
            path,
            base_url=BASE,
            headers={"Accept": "text/html,application/xhtml+xml"},
            environ_base=self._environ(),
            **kwargs,
        )
        return self.last

    def csrf(self, html: str | None = None) -> str:
        text = html if html is not None else (self.last.get_data(as_text=True) if self.last else "")
        found = _CSRF.search(text)
        assert found, "the page has no CSRF token"
        return found.group(1)

    def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any
    ) -> TestResponse:
        form = dict(data or {})
        if csrf and "csrf_token" not in form:
            form["csrf_token"] = self.csrf()
        self.last = self.client.post(
            path,
            base_url=BASE,
            data=form,
            headers={
                "Accept": "text/html,application/xhtml+xml",
                "Referer": f"{BASE}{path}",
                **kwargs.pop("headers", {}),
            },
            environ_base=self._environ(),
            **kwargs,
        )
        return self.last

    def sign_in(self, person: Person, *, next_path: str | None = None) -> TestResponse:
        login = "/login" + (f"?next={next_path}" if next_path else "")
        self.get(login)
        response = self.post(login, {"username": person.username, "password": person.password})
        assert response.status_code == 302, response.get_data(as_text=True)
        self.get(response.headers["Location"])
        response = self.post("/login/code", {"code": person.code()})
        assert response.status_code == 302, response.get_data(as_text=True)
        return response

    def cookie(self) -> str | None:
        cookie = self.client.get_cookie("__Host-exchange", domain="127.0.0.1")
        return cookie.value if cookie else None


def held_session(app: Flask, cookie: str | None) -> dict[str, Any]:
    """What the server reads from a session cookie (it is signed, not encrypted)."""
    interface = cast(SecureCookieSessionInterface, app.session_interface)
    serializer = interface.get_signing_serializer(app)
    assert serializer is not None
    return dict(serializer.loads(cookie)) if cookie else {}
