"""The acceptance journey, in a real browser against the real server on 127.0.0.1.

A liaison officer signs in (password, then TOTP), searches in Japanese, opens a verified
record; an auditor finds that very access in the record's trail; an administrator revokes
the publishing system's certificate and the API refuses that system from then on.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pyotp
import pytest
from flask import Flask
from playwright.sync_api import Locator, expect

from exchange.agencies.labels import REVOCATION_REASON_LABELS
from exchange.client.sdk import ExchangeError
from exchange.trail.integrator_process import build_integrator
from exchange.trail.labels import ACTIONS
from exchange.trail.labels import PURPOSES as TRAIL_PURPOSES
from exchange.ui.filters import serial_hex
from tests.browser.casework import BROKER_NAME, broker_payload, publish_broker, search
from tests.browser.screen import Tab, either
from tests.factories import World

VERIFIED = either("検証済み", "Verified")


def menu_link(tab: Tab, label: str) -> Locator:
    return tab.page.get_by_role("navigation").get_by_role("link", name=tab.t(label), exact=True)


def integrate(app: Flask) -> None:
    """What the integrator beside ``exchange serve`` does: give committed entries leaves.

    The test server runs no integrator of its own; the trail lists integrated entries.
    """
    with app.app_context():
        build_integrator(app).integrate(checkpoint=True)


class TestSignIn:
    def test_password_then_code(self, tab: Tab, world: World) -> None:
        officer = world.person(world.agency("police").agency, "liaison")
        tab.sign_in(officer)
        expect(tab.page.get_by_role("heading", level=1)).to_contain_text(f"{officer.username} 太郎")
        expect(tab.page.get_by_role("button", name=tab.t("Sign out"), exact=True)).to_be_visible()

    def test_new_user_enrols_an_authenticator(self, tab: Tab, world: World) -> None:
        newcomer = world.person(world.agency("immigration").agency, "liaison", enrolled=False)
        tab.submit_password(newcomer)
        tab.at("/login/enrol")
        tab.snap("enrol")
        qr = tab.page.get_by_role("img", name=tab.t("QR code for your authenticator app"))
        expect(qr).to_be_visible()
        assert (qr.get_attribute("src") or "").startswith("data:image/svg+xml")
        # The QR image really loaded (a broken image has no natural width).
        assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
        secret = tab.page.get_by_test_id("totp-secret").inner_text().strip()
        assert re.fullmatch(r"[A-Z2-7]{16,}", secret)
        tab.fill("Six-digit code", pyotp.TOTP(secret).now())
        tab.press("Confirm and sign in")
        tab.at("/")
        tab.snap("enrolled")
        expect(tab.page.get_by_role("heading", level=1)).to_contain_text(newcomer.username)

    def test_wrong_code_is_refused_with_a_message(self, tab: Tab, world: World) -> None:
        officer = world.person(world.agency("police").agency, "liaison")
        tab.submit_password(officer)
        tab.at("/login/code")
        tab.fill("Six-digit code", officer.code(-3))
        tab.press("Sign in")
        expect(tab.page.get_by_role("alert")).to_have_text(
            tab.t("The code is wrong or was already used.")
        )
        tab.snap("refused")
        assert tab.page.url.startswith(tab.url("/login/code"))


class TestLanguage:
    def test_pages_are_japanese_until_english_is_chosen(self, tab: Tab) -> None:
        tab.open("/login", "japanese")
        expect(tab.page.locator("html")).to_have_attribute("lang", "ja")
        expect(tab.page.get_by_role("heading", level=1)).to_have_text(tab.t("Sign in"))
        tab.page.get_by_role("button", name="English", exact=True).click()
        expect(tab.page.locator("html")).to_have_attribute("lang", "en")
        tab.at("/login")
        tab.snap("english")
        expect(tab.page.get_by_role("heading", level=1)).to_have_text("Sign in")
        expect(tab.page.get_by_label("User name", exact=True)).to_be_visible()
        expect(tab.page.get_by_label("Password", exact=True)).to_be_visible()
        expect(tab.page.get_by_role("button", name="Next", exact=True)).to_be_visible()
        back = tab.page.get_by_role("button", name="日本語", exact=True)
        expect(back).to_have_attribute("lang", "ja")
        back.click()
        expect(tab.page.locator("html")).to_have_attribute("lang", "ja")
        tab.snap("japanese-again")


class TestJourney:
    def test_search_read_audit_and_revoke(
        self, app: Flask, tabs: Callable[[str], Tab], world: World
    ) -> None:
        bureau, immigration = world.agency("labour"), world.agency("immigration")
        envelope = publish_broker(bureau, broker_payload(BROKER_NAME))

        # A liaison officer of the Immigration Services Agency looks the broker up.
        officer = world.person(immigration.agency, "liaison")
        liaison = tabs("liaison")
        liaison.sign_in(officer)
        menu_link(liaison, "Search").click()
        liaison.at("/search")
        liaison.snap("search-form")
        search(liaison, purpose="investigation", publisher=bureau, text=BROKER_NAME)
        liaison.snap("found-by-name")
        found = liaison.page.get_by_role("link", name=BROKER_NAME, exact=True)
        expect(found).to_have_count(1)
        # Two characters of the name find it too: Japanese has no spaces between words.
        search(liaison, purpose="investigation", publisher=bureau, text="大阪")
        liaison.snap("not-found")
        expect(found).to_have_count(0)
        search(liaison, purpose="investigation", publisher=bureau, text="東京")
        liaison.snap("found-by-part")
        expect(liaison.page.get_by_label(liaison.t("Name or alias"), exact=True)).to_have_value(
            "東京"
        )
        expect(found).to_have_count(1)

        found.click()
        liaison.at(f"/records/{envelope['id']}")
        liaison.snap("record")
        expect(liaison.page.get_by_role("heading", level=1)).to_have_text(BROKER_NAME)
        expect(liaison.page.get_by_text(VERIFIED).first).to_be_visible()
        expect(liaison.page.get_by_text(envelope["id"], exact=True)).to_be_visible()

        # An auditor finds that very access in the record's trail, with its purpose.
        auditor = tabs("auditor")
        auditor.sign_in(world.person(world.agency("police").agency, "auditor"))
        menu_link(auditor, "Access trail").click()
        auditor.at("/audit")
        auditor.snap("trail-everything")
        integrate(app)
        auditor.fill("Record ID", envelope["id"])
        auditor.press("Show trail")
        auditor.at("/audit")
        rows = (
            auditor.page.get_by_role("row")
            .filter(has_text=officer.username)
            .filter(has_text=auditor.t(ACTIONS["record.read"]))
        )
        auditor.snap("trail")
        expect(rows).to_have_count(1)
        expect(rows).to_contain_text(auditor.t(TRAIL_PURPOSES["investigation"]))
        expect(rows).to_contain_text(immigration.agency)

        # An administrator revokes the publishing system's certificate.
        admin = tabs("admin")
        admin.sign_in(world.person(world.agency("police").agency, "admin"))
        menu_link(admin, "Systems").click()
        admin.at("/admin/systems")
        admin.snap("systems")
        systems = admin.page.get_by_role(
            "table", name=admin.t("Every agency system with its certificates (times in JST)")
        )
        systems.get_by_role("link", name=f"{bureau.agency}/gateway", exact=True).click()
        admin.page.wait_for_url(re.compile(r".*/admin/systems/\d+$"))
        admin.snap("system")
        admin.page.get_by_label(admin.t("Reason"), exact=True).select_option(
            label=admin.t(REVOCATION_REASON_LABELS["key_compromise"])
        )
        # The page asks for confirmation first (data-confirm): the administrator agrees.
        admin.page.once("dialog", lambda dialog: dialog.accept())
        admin.press("Revoke this certificate")
        expect(admin.page.get_by_role("status")).to_contain_text(
            serial_hex(bureau.bundle.certificate.serial)
        )
        admin.snap("revoked")
        expect(
            admin.page.get_by_role("button", name=admin.t("Revoke this certificate"))
        ).to_have_count(0)

        # From its next request, the API refuses that system.
        with bureau.client() as exchange, pytest.raises(ExchangeError) as refused:
            exchange.request("GET", "/api/v1/identity")
        assert refused.value.status == 403
        assert refused.value.code == "certificate_revoked"
