"""What a person does in the browser: open pages, sign in, and keep a screenshot of each page.

Fields are found by their label and buttons by their role and name, as assistive
technology finds them, in the language the page is shown in (Japanese by default).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from flask_babel import force_locale, gettext
from playwright.sync_api import Page, Response

from tests.factories import Person

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def either(*texts: str) -> re.Pattern[str]:
    """Any of ``texts``, whole: a Japanese term and its English msgid.

    A message the catalogue does not translate yet is shown in English; a locator that
    takes either keeps finding it.
    """
    return re.compile("^(?:" + "|".join(re.escape(t) for t in texts) + ")$")


def containing(*texts: str) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(t) for t in texts))


@dataclass
class Tab:
    """One browser tab of one test, on the exchange's web listener."""

    page: Page
    base: str
    app: Flask
    test_name: str
    steps: int = 0

    def t(self, msgid: object, **variables: Any) -> str:
        """The text a Japanese page shows for ``msgid`` (or a lazy label), from the app's
        own catalogue."""
        with self.app.test_request_context(), force_locale("ja"):
            if isinstance(msgid, str):
                return str(gettext(msgid, **variables))
            return str(msgid)

    def url(self, path: str) -> str:
        return self.base + path

    def open(self, path: str, step: str | None = None) -> Response | None:
        response = self.page.goto(self.url(path))
        self.snap(step or path.strip("/").split("?")[0].replace("/", "-") or "start")
        return response

    def snap(self, step: str) -> Path:
        """A full-page screenshot: artifacts/screenshots/<test>-<nn>-<step>.png."""
        self.steps += 1
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{self.test_name}-{self.steps:02d}-{step}")
        path = SCREENSHOTS / f"{safe}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def at(self, path: str) -> None:
        """Wait until the browser has arrived at ``path`` (query string ignored)."""
        self.page.wait_for_url(re.compile("^" + re.escape(self.url(path)) + r"(?:\?.*)?$"))

    def fill(self, label: str, value: str) -> None:
        self.page.get_by_label(self.t(label), exact=True).fill(value)

    def press(self, button: str) -> None:
        """Press a button that sends a form, and wait for the page that answers it.

        Waiting for the navigation itself matters when the answer has the same path (a
        search from the search page): the old page would otherwise pass for the new one.
        """
        with self.page.expect_navigation():
            self.page.get_by_role("button", name=self.t(button), exact=True).click()

    def submit_password(self, person: Person) -> None:
        self.open("/login", "sign-in")
        self.fill("User name", person.username)
        self.fill("Password", person.password)
        self.press("Next")

    def sign_in(self, person: Person, *, landing: str = "/") -> None:
        """Password, then the current TOTP code, as the person's authenticator app shows it."""
        self.submit_password(person)
        self.at("/login/code")
        self.snap("second-factor")
        self.fill("Six-digit code", person.code())
        self.press("Sign in")
        self.at(landing)
        self.snap("signed-in")

    def sign_out(self) -> None:
        self.press("Sign out")
        self.at("/login")
