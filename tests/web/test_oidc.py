"""Signing in through an agency's identity provider: the full flow and every refusal.

The provider (tests.web.oidc_provider) is a real server over TLS; the browser is Flask's
test client, and the hop to the provider and back is made with requests, as a browser
would follow the redirects.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit
from uuid import uuid4

import pytest
import requests
from flask import Flask
from werkzeug.test import TestResponse

from exchange.agencies.service import create_agency
from exchange.auth.service import get_user
from exchange.extensions import db
from tests.exchange.helpers import audit_entry
from tests.factories import OPERATOR, Person, World
from tests.isolated import isolated_app
from tests.web.oidc_provider import OpenIDProvider
from tests.web.pages import Browser

CLIENT_ID = "exchange-ui"
AGENCY = "npa"


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenIDProvider]:
    provider = OpenIDProvider(
        tmp_path_factory.mktemp("idp"), client_id=CLIENT_ID, client_secret="s3cret-of-the-client"
    )
    provider.start()
    yield provider
    provider.stop()


@pytest.fixture(autouse=True)
def _fresh_behaviour(idp: OpenIDProvider) -> None:
    idp.reset()


def _provider(idp: OpenIDProvider, **extra: Any) -> dict[str, Any]:
    return {
        "label": "警察庁 ID",
        "metadata_url": idp.metadata_url,
        "client_id": CLIENT_ID,
        "client_secret": idp.client_secret,
        "agency": AGENCY,
        "ca_file": str(idp.ca_file),
        **extra,
    }


@pytest.fixture(scope="module")
def oidc_app(idp: OpenIDProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    providers = {
        "npa-id": _provider(idp),
        "npa-mfa": _provider(idp, required_amr=["hwk"]),
        "untrusted": {**_provider(idp), "ca_file": None},
        "incomplete": {"label": "No URL"},
    }
    with isolated_app(tmp_path_factory.mktemp("oidc"), EXCHANGE_OIDC_PROVIDERS=providers) as app:
        with app.app_context():
            create_agency(
                actor=OPERATOR, agency_id=AGENCY, kind="police", name_ja="警察庁", name_en="NPA"
            )
            create_agency(
                actor=OPERATOR, agency_id="isa", kind="immigration", name_ja="入管", name_en="ISA"
            )
            db.session.commit()
        yield app


@pytest.fixture(scope="module")
def world(oidc_app: Flask, tmp_path_factory: pytest.TempPathFactory) -> World:
    return World(oidc_app, tmp_path_factory.mktemp("oidc-bundles"))


def _linked(app: Flask, world: World, idp: OpenIDProvider, agency: str, subject: str) -> Person:
    """A person whose account is linked to ``subject``, whom the provider vouches for next."""
    idp.behaviour.subject = subject
    person = world.person(agency, "liaison")
    with app.app_context():
        user = get_user(person.username)
        user.oidc_issuer, user.oidc_subject = idp.issuer, subject
        db.session.commit()
    return person


def _provider_answer(
    browser: Browser, idp: OpenIDProvider, provider: str = "npa-id"
) -> tuple[str, dict[str, str]]:
    """Start at the exchange and let the provider answer: the path back and its query."""
    start = browser.get(f"/login/oidc/{provider}?next=/")
    assert start.status_code == 302, start.get_data(as_text=True)
    answer = requests.get(
        start.headers["Location"], verify=str(idp.ca_file), allow_redirects=False, timeout=10
    )
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    assert (back.scheme, back.netloc) == ("https", "127.0.0.1")
    return back.path, dict(parse_qsl(back.query))


def _through_provider(
    browser: Browser, idp: OpenIDProvider, provider: str = "npa-id", **tamper: str
) -> TestResponse:
    """Start at the exchange, let the provider answer, come back with what it gave."""
    path, query = _provider_answer(browser, idp, provider)
    return browser.get(f"{path}?{urlencode(query | tamper)}")


def _entry(app: Flask, response: TestResponse) -> dict[str, Any]:
    return audit_entry(app, response.headers["Exchange-Request-Id"])


class TestSignIn:
    def test_the_login_page_offers_the_provider(self, oidc_app: Flask) -> None:
        html = Browser(oidc_app).get("/login").get_data(as_text=True)
        assert "警察庁 ID" in html and "/login/oidc/npa-id" in html

    def test_full_flow_starts_a_session(
        self, oidc_app: Flask, world: World, idp: OpenIDProvider
    ) -> None:
        person = _linked(oidc_app, world, idp, AGENCY, "officer-full-flow")
        browser = Browser(oidc_app)
        response = _through_provider(browser, idp)
        assert response.status_code == 302 and response.headers["Location"] == "/"
        asked = idp.authorize_requests[-1]
        assert asked["code_challenge_method"] == "S256" and asked["nonce"] and asked["state"]
        entry = _entry(oidc_app, response)
        assert entry["action"] == "auth.login"
        assert entry["details"]["method"] == "oidc"
        assert entry["details"]["user"] == person.username
        home = browser.get("/")
        assert home.status_code == 200
        assert f"{person.username} 太郎" in home.get_data(as_text=True)

    def test_the_answer_cannot_be_replayed(
        self, oidc_app: Flask, world: World, idp: OpenIDProvider
    ) -> None:
        _linked(oidc_app, world, idp, AGENCY, "officer-replay")
        browser = Browser(oidc_app)
        path, query = _provider_answer(browser, idp)
        assert browser.get(f"{path}?{urlencode(query)}").status_code == 302
        again = Browser(oidc_app).get(f"{path}?{urlencode(query)}")
        assert again.status_code == 400
        assert _entry(oidc_app, again)["details"]["reason"] == "state_invalid"


class TestRefusals:
    def _refused(self, app: Flask, response: TestResponse, status: int, reason: str) -> None:
        assert response.status_code == status, response.get_data(as_text=True)
        assert "/login" in response.get_data(as_text=True)
        entry = _entry(app, response)
        assert entry["action"] == "auth.login.failed"
        assert entry["details"]["reason"] == reason

    def test_a_wrong_state_is_refused(
        self, oidc_app: Flask, world: World, idp: OpenIDProvider
    ) -> None:
        _linked(oidc_app, world, idp, AGENCY, "officer-state")
        browser = Browser(oidc_app)
        response = _through_provider(browser, idp, state="forged-state-ステート")
        self._refused(oidc_app, response, 400, "state_invalid")
        assert browser.get("/").status_code == 302  # still signed out

    def test_a_wrong_nonce_is_refused(
        self, oidc_app: Flask, world: World, idp: OpenIDProvider
    ) -> None:
        _linked(oidc_app, world, idp, AGENCY, "officer-nonce")
        idp.behaviour.nonce = "a-nonce-from-another-sign-in"
        response = _through_provider(Browser(oidc_app), idp)
        self._refused(oidc_app, response, 401, "id_token_invalid")
        assert _entry(oidc_app, response)["details"]["detail"] == "InvalidClaimError"

    def test_a_token_signed_by_another_key_is_refused(
        self, oidc_app: Flask, world: World, idp: OpenIDProvider
    ) -> None:
        _linked(oidc_app, world, idp, AGENCY, "officer-forged")
        idp.behaviour.forged = True
        response = _through_provider(Browser(oidc_app), idp)
        self._refused(oidc_app, response, 401, "id_token_invalid")
        assert _entry(oidc_app, response)["details"]["detail"] == "BadSignatureError"

    def test_a_token_for_another_client_is_refused(
        self, oidc_app: Flask, world: World, idp: OpenIDProvider
    ) -> None:
        _linked(oidc_app, world, idp, AGENCY, "officer-audience")
        idp.behaviour.audience = "some-other-relying-party"
        response = _through_provider(Browser(oidc_app), idp)
        self._refused(oidc_app, response, 401, "id_token_invalid")

    def test_an_unknown_subject_gets_no_account(self, oidc_app: Flask, idp: OpenIDProvider) -> None:
        idp.behaviour.subject = "officer-nobody-knows"
        browser = Browser(oidc_app)
        response = _through_provider(browser, idp)
        self._refused(oidc_app, response, 403, "subject_unknown")
        assert "関連付けられていません" in response.get_data(as_text=True)
        details = _entry(oidc_app, response)["details"]
        assert details["subject"] == "officer-nobody-knows"
        assert details["issuer"] == idp.issuer
        assert browser.get("/").status_code == 302

    def test_an_account_of_another_agency_is_refused(
        self, oidc_app: Flask, world: World, idp: OpenIDProvider
    ) -> None:
        _linked(oidc_app, world, idp, "isa", "officer-of-isa")
        response = _through_provider(Browser(oidc_app), idp)
        self._refused(oidc_app, response, 403, "agency_mismatch")

    def test_a_required_authentication_method_is_enforced(
        self, oidc_app: Flask, world: World, idp: OpenIDProvider
    ) -> None:
        _linked(oidc_app, world, idp, AGENCY, "officer-amr")
        response = _through_provider(Browser(oidc_app), idp, provider="npa-mfa")
        self._refused(oidc_app, response, 403, "authentication_method_insufficient")
        idp.behaviour.amr = ["pwd", "hwk"]
        assert _through_provider(Browser(oidc_app), idp, provider="npa-mfa").status_code == 302

    @pytest.mark.parametrize(
        "misbehaviour",
        [
            {"claims": {"nonce": None}},
            {"claims": {"exp": 1_000_000}},
            {"claims": {"iss": "https://elsewhere.example"}},
            {"claims": {"aud": ["another", CLIENT_ID]}},  # several audiences, no azp
            {"claims": {"aud": "another", "azp": CLIENT_ID}},  # another client's, whatever azp
            {"claims": {"sub": None}},
            {"claims": {"iat": None}},
            {"tamper": lambda token: "eyJhbGciOiJub25lIn0." + token.split(".")[1] + "."},
            {"tamper": lambda token: token.rsplit(".", 1)[0] + "."},  # signature removed
        ],
        ids=[
            "no-nonce",
            "expired",
            "issuer",
            "audiences-without-azp",
            "azp",
            "no-sub",
            "no-iat",
            "alg-none",
            "unsigned",
        ],
    )
    def test_an_id_token_failing_its_checks_is_refused(
        self, oidc_app: Flask, world: World, idp: OpenIDProvider, misbehaviour: dict[str, Any]
    ) -> None:
        """OpenID Connect Core §3.1.3.7, for an account that would otherwise sign in."""
        _linked(oidc_app, world, idp, AGENCY, f"officer-{uuid4().hex}")
        idp.behaviour = replace(idp.behaviour, **misbehaviour)
        browser = Browser(oidc_app)
        self._refused(oidc_app, _through_provider(browser, idp), 401, "id_token_invalid")
        assert browser.get("/").status_code == 302

    def test_a_code_from_another_sign_in_is_refused(
        self, oidc_app: Flask, world: World, idp: OpenIDProvider
    ) -> None:
        """RFC 7636 §1: an intercepted code is useless without its sign-in's verifier."""
        _linked(oidc_app, world, idp, AGENCY, "officer-pkce")
        _path, intercepted = _provider_answer(Browser(oidc_app), idp)
        response = _through_provider(Browser(oidc_app), idp, code=intercepted["code"])
        self._refused(oidc_app, response, 401, "token_exchange_failed")

    def test_a_provider_error_is_refused(self, oidc_app: Flask, idp: OpenIDProvider) -> None:
        response = _through_provider(Browser(oidc_app), idp, error="access_denied")
        self._refused(oidc_app, response, 401, "provider_refused")


class TestProviders:
    def test_an_unknown_provider_is_not_found(self, oidc_app: Flask) -> None:
        browser = Browser(oidc_app)
        assert browser.get("/login/oidc/nobody").status_code == 404
        assert browser.get("/login/oidc/nobody/callback?code=x&state=y").status_code == 404
        assert browser.get("/login/oidc/incomplete").status_code == 503

    def test_a_provider_whose_certificate_is_not_trusted_is_not_used(self, oidc_app: Flask) -> None:
        response = Browser(oidc_app).get("/login/oidc/untrusted")
        assert response.status_code == 502
        assert _entry(oidc_app, response)["details"]["provider"] == "untrusted"
