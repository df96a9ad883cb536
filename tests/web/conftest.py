from __future__ import annotations

import pytest
from flask import Flask

from tests.factories import Person, World
from tests.web.pages import Browser


@pytest.fixture()
def browser(app: Flask) -> Browser:
    return Browser(app)


@pytest.fixture()
def auditor(world: World) -> Person:
    return world.person(world.agency("police").agency, "auditor")


@pytest.fixture()
def audit_browser(app: Flask, auditor: Person) -> Browser:
    """An auditor signed in, with English labels: the assertions hold before and after
    the Japanese catalogue changes."""
    browser = Browser(app)
    browser.sign_in(auditor)
    browser.get("/")
    browser.post("/language", {"lang": "en", "next": "/"})
    return browser
