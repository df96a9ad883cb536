"""A real Chromium against the real server's web listener on 127.0.0.1.

Playwright drives Debian's Chromium (/usr/bin/chromium) and never downloads a browser.
Without Chromium these tests are skipped, except in CI (EXCHANGE_REQUIRE_BROWSER=1),
where its absence is a failure.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, sync_playwright

from exchange.pki.vault import load_vault
from exchange.serving import ExchangeServer
from tests.browser.screen import Tab

CHROMIUM = Path("/usr/bin/chromium")

# No sandbox (CI runs as root in a container), and nothing that calls out of the machine.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _server_key_pin(app: Flask) -> str:
    """The base64 SHA-256 of the web listener's public key (SubjectPublicKeyInfo).

    Chromium accepts this one key though the exchange's CA is not in its trust store:
    narrower than ignoring every certificate error, so a broken handshake still fails.
    """
    pem = load_vault(app).server_certificate_path.read_bytes()
    certificate = x509.load_pem_x509_certificate(pem)
    spki = certificate.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


# Package scope: while Playwright runs, its event loop counts as running in this thread,
# which would trouble any later test that starts one of its own.
@pytest.fixture(scope="package")
def chromium(app: Flask) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium fonts-noto-cjk)"
        if os.environ.get("EXCHANGE_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + ", and EXCHANGE_REQUIRE_BROWSER=1")
        pytest.skip(reason)
    args = [*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={_server_key_pin(app)}"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=args
        )
        yield browser
        browser.close()


@pytest.fixture()
def tabs(
    request: pytest.FixtureRequest, app: Flask, server: ExchangeServer, chromium: Browser
) -> Iterator[Callable[[str], Tab]]:
    """Opens a browser of its own (no cookies) per person: in Japanese, in Japan's time zone."""
    contexts: list[BrowserContext] = []

    def open_tab(who: str) -> Tab:
        context = chromium.new_context(locale="ja-JP", timezone_id="Asia/Tokyo")
        context.set_default_timeout(15_000)
        contexts.append(context)
        return Tab(
            page=context.new_page(),
            base=f"https://127.0.0.1:{server.ui.port}",
            app=app,
            test_name=f"{request.node.name}-{who}" if who else request.node.name,
        )

    yield open_tab
    for context in contexts:
        context.close()


@pytest.fixture()
def tab(tabs: Callable[[str], Tab]) -> Tab:
    return tabs("")
