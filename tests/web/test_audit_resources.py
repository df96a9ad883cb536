"""A browser's fetches of stylesheets, scripts and the icon: in the log, out of the way."""

from __future__ import annotations

import re

from flask import Flask

from tests.exchange.helpers import audit_entry
from tests.web.pages import Browser
from tests.web.test_audit_pages import integrate, leaf_of, table


def _static_urls(page: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', page)


class TestIcon:
    def test_pages_name_an_icon_that_is_served(self, app: Flask, browser: Browser) -> None:
        page = browser.get("/login").get_data(as_text=True)
        icon = re.search(r'<link rel="icon" href="([^"]+)"', page)
        assert icon is not None
        response = browser.get(icon.group(1))
        assert response.status_code == 200 and response.mimetype == "image/svg+xml"

    def test_favicon_ico_is_served_and_logged_as_a_resource(
        self, app: Flask, browser: Browser
    ) -> None:
        response = browser.get("/favicon.ico")
        assert response.status_code == 200
        assert response.mimetype == "image/svg+xml"
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "request.static" and entry["status"] == 200


class TestCaching:
    def test_static_urls_name_their_content_and_are_kept_by_the_browser(
        self, browser: Browser
    ) -> None:
        urls = _static_urls(browser.get("/login").get_data(as_text=True))
        assert urls and all(re.search(r"\?v=[0-9a-f]{16}$", url) for url in urls)
        for url in urls:
            response = browser.get(url)
            assert response.status_code == 200
            assert response.cache_control.immutable and response.cache_control.max_age
        # A URL without the current version is revalidated as before.
        stale = browser.get(urls[0].split("?")[0] + "?v=0000000000000000")
        assert not stale.cache_control.immutable


class TestTrail:
    def test_resource_fetches_stay_out_of_the_default_trail(
        self, app: Flask, audit_browser: Browser
    ) -> None:
        fetched = audit_browser.get("/static/exchange.css")
        missing = audit_browser.get("/static/no-such-file.png")
        assert missing.status_code == 404
        page_view = audit_browser.get("/")
        integrate(app)
        fetched_leaf = f"#{leaf_of(app, fetched.headers['Exchange-Request-Id'])}<"
        missing_leaf = f"#{leaf_of(app, missing.headers['Exchange-Request-Id'])}<"
        view_leaf = f"#{leaf_of(app, page_view.headers['Exchange-Request-Id'])}<"

        default = audit_browser.get("/audit").get_data(as_text=True)
        assert view_leaf in table(default)
        assert fetched_leaf not in table(default) and missing_leaf not in table(default)
        attempts = audit_browser.get("/audit?outcome=attempts").get_data(as_text=True)
        assert missing_leaf not in table(attempts)

        # Still in the log: asked for, or chosen by action.
        every = audit_browser.get("/audit?resources=y").get_data(as_text=True)
        assert fetched_leaf in table(every) and missing_leaf in table(every)
        assert 'name="resources"' in every and "checked" in every
        chosen = audit_browser.get("/audit?action=request.static").get_data(as_text=True)
        assert fetched_leaf in table(chosen) and view_leaf not in table(chosen)
