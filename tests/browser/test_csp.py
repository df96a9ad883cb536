"""Markup in a record is shown as text, and the Content-Security-Policy holds in the browser.

A publisher's data is not trusted to be harmless: a broker named like an HTML payload must
reach the officer's screen as those characters, run nothing, and break no policy.
"""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import ConsoleMessage, Dialog, Page, expect

from tests.browser.casework import broker_payload, publish_broker, search
from tests.browser.screen import Tab
from tests.factories import World

HOSTILE_NAME = "<script>alert(1)</script><img src=x onerror=alert(2)>"


class PageWatch:
    """Dialogs the page opened and Content-Security-Policy reports in its console."""

    def __init__(self, page: Page) -> None:
        self.dialogs: list[str] = []
        self.violations: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.violations.append(message.text)

    def clean(self) -> bool:
        return not (self.dialogs or self.violations or self.errors)


def assert_policy(headers: dict[str, str]) -> None:
    policy = headers.get("content-security-policy", "")
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy


class TestHostileRecord:
    def test_markup_in_a_name_is_text_and_runs_nothing(
        self, tabs: Callable[[str], Tab], world: World
    ) -> None:
        police = world.agency("police")
        envelope = publish_broker(police, broker_payload(HOSTILE_NAME))
        tab = tabs("")
        watch = PageWatch(tab.page)
        tab.sign_in(world.person(world.agency("immigration").agency, "liaison"))

        tab.open("/search")
        with tab.page.expect_response(lambda r: "/search?" in r.url) as searched:
            search(tab, purpose="investigation", publisher=police, text="")
        tab.snap("results")
        assert_policy(searched.value.headers)
        link = tab.page.get_by_role("link", name=HOSTILE_NAME, exact=True)
        expect(link).to_have_count(1)
        expect(link).to_have_text(HOSTILE_NAME)

        with tab.page.expect_response(lambda r: f"/records/{envelope['id']}" in r.url) as opened:
            link.click()
        tab.at(f"/records/{envelope['id']}")
        tab.snap("record")
        assert_policy(opened.value.headers)
        expect(tab.page.get_by_role("heading", level=1)).to_have_text(HOSTILE_NAME)
        # The name became no element: no image tried to load "x", no script was added.
        assert tab.page.locator('img[src="x"]').count() == 0
        scripts = tab.page.locator("script").evaluate_all("nodes => nodes.map(n => n.src)")
        # The site's one script, at its versioned address.
        assert [url.split("?v=")[0] for url in scripts] == [tab.url("/static/exchange.js")]
        assert watch.clean(), (watch.dialogs, watch.violations, watch.errors)

    def test_policy_is_enforced_by_the_browser(
        self, tabs: Callable[[str], Tab], world: World
    ) -> None:
        """The check above means something only if the browser applies the policy."""
        tab = tabs("")
        watch = PageWatch(tab.page)
        response = tab.open("/login")
        assert response is not None
        assert_policy(response.headers)
        assert watch.clean()
        with tab.page.expect_console_message(
            lambda message: "Content Security Policy" in message.text
        ) as blocked:
            ran = tab.page.evaluate(
                """() => {
                    const script = document.createElement("script");
                    script.textContent = "window.injected = true";
                    document.body.appendChild(script);
                    return window.injected === true;
                }"""
            )
        assert ran is False
        assert "script-src" in blocked.value.text
