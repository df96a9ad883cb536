"""Sign-in through an agency's OpenID Connect identity provider (optional).

Configured per provider in ``EXCHANGE_OIDC_PROVIDERS``::

    {"npa-id": {"label": "警察庁 ID", "agency": "npa",
                "metadata_url": "https://idp.npa.example/.well-known/openid-configuration",
                "client_id": "...", "client_secret": "...",
                "ca_file": "/etc/exchange/npa-idp-ca.pem",   # optional: the IdP's TLS CA
                "required_amr": ["mfa"]}}                     # optional, RFC 8176 values

The authorization code flow of OpenID Connect Core §3.1 with PKCE (RFC 7636, S256); the
ID token's signature is checked against the provider's published keys and its iss, aud,
exp, iat and nonce against what this sign-in expects. A person signs in to the exchange
account already linked to the token's (issuer, subject) and belonging to the provider's
agency; nobody gets an account by signing in.

Second factor: the agency's identity provider authenticates its own staff, with the
factors its own rules require, and the agency answers for that when its provider is
registered here; the exchange does not ask for its TOTP code on top. Where an agency's
provider reports how it authenticated (the ``amr`` claim, RFC 8176), ``required_amr``
makes the exchange insist on one of the listed methods.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session
from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from werkzeug.wrappers import Response

from exchange.auth.models import User
from exchange.auth.service import find_oidc_user
from exchange.clock import as_utc, utcnow
from exchange.problems import Problem
from exchange.ui.access import enter_page, page, safe_next, sign_in_browser

bp = Blueprint("oidc", __name__)
bp.before_request(enter_page)

# OpenID Connect Core §15.1 makes RS256 mandatory; the others are common. Never "none",
# and never HS256, which would make the client secret the signing key.
ALGORITHMS = ("RS256", "PS256", "ES256")
PENDING_SECONDS = 600
TIMEOUT_SECONDS = 10
CLOCK_LEEWAY_SECONDS = 60
_UNAVAILABLE = (
    "The identity provider could not be reached or answered wrongly. "
    "Sign in with your password, or try again later."
)


class OidcSignInRefused(Exception):
    def __init__(self, reason: str, status: int = 401, **details: str) -> None:
        super().__init__(reason)
        self.reason, self.status, self.details = reason, status, details


@dataclass(frozen=True)
class Provider:
    name: str
    label: str
    metadata_url: str
    client_id: str
    client_secret: str
    agency: str
    ca_file: str | None
    required_amr: tuple[str, ...]

    @property
    def verify(self) -> str | bool:
        """What requests checks the provider's TLS certificate against."""
        return self.ca_file or True


def _provider(name: str) -> Provider:
    configured = (current_app.config.get("EXCHANGE_OIDC_PROVIDERS") or {}).get(name)
    if not isinstance(configured, dict):
        raise Problem(404, "provider_unknown", "No such identity provider")
    g.audit.details["provider"] = name
    try:
        return Provider(
            name=name,
            label=str(configured.get("label", name)),
            metadata_url=str(configured["metadata_url"]),
            client_id=str(configured["client_id"]),
            client_secret=str(configured.get("client_secret", "")),
            agency=str(configured["agency"]),
            ca_file=configured.get("ca_file"),
            required_amr=tuple(configured.get("required_amr") or ()),
        )
    except KeyError as missing:
        current_app.logger.error("identity provider %s: %s is not configured", name, missing)
        raise Problem(
            503, "provider_misconfigured", "Identity provider not available", _UNAVAILABLE
        ) from None


def _get_json(provider: Provider, url: str) -> dict[str, Any]:
    response = requests.get(url, verify=provider.verify, timeout=TIMEOUT_SECONDS)
    response.raise_for_status()
    document = response.json()
    if not isinstance(document, dict):
        raise ValueError(f"{url} is not a JSON object")
    return document


def _metadata(provider: Provider) -> dict[str, Any]:
    """The provider's discovery document (OpenID Connect Discovery 1.0 §4)."""
    try:
        metadata = _get_json(provider, provider.metadata_url)
        issuer = str(metadata["issuer"])
        # Discovery §4.3: the issuer is the URL the document was fetched under.
        if provider.metadata_url != issuer.rstrip("/") + "/.well-known/openid-configuration":
            raise ValueError("the issuer does not match the metadata URL")
        for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not str(metadata[endpoint]).startswith("https://"):
                raise ValueError(f"{endpoint} is not https")
    except (requests.RequestException, ValueError, KeyError) as error:
        current_app.logger.warning("identity provider %s: %s", provider.name, error)
        raise Problem(
            502, "provider_unavailable", "Identity provider not available", _UNAVAILABLE
        ) from None
    return metadata


def _client(provider: Provider, metadata: dict[str, Any]) -> OAuth2Session:
    methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    return OAuth2Session(
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        scope="openid",
        redirect_uri=url_for("oidc.callback", provider=provider.name, _external=True),
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic"
        if "client_secret_basic" in methods
        else "client_secret_post",
    )


@bp.route("/login/oidc/<provider>", methods=["GET"])
@page("auth.oidc.begin", public=True)
def begin(provider: str) -> Response:
    chosen = _provider(provider)
    metadata = _metadata(chosen)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # RFC 7636 §4.1: 43 to 128 characters
    url, _state = _client(chosen, metadata).create_authorization_url(
        metadata["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
    )
    session["oidc"] = {
        "provider": chosen.name,
        "state": state,
        "nonce": nonce,
        "verifier": verifier,
        "next": safe_next(request.args.get("next"), ""),
        "at": time.time(),
    }
    return redirect(url)


def verify_id_token(
    id_token: str, *, keys: dict[str, Any], issuer: str, client_id: str, nonce: str
) -> dict[str, Any]:
    """The claims of an ID token that passes OpenID Connect Core §3.1.3.7."""
    try:
        key_set = KeySet.import_key_set(keys)  # type: ignore[arg-type]
        token = jwt.decode(id_token, key_set, algorithms=list(ALGORITHMS))
        jwt.JWTClaimsRegistry(
            leeway=CLOCK_LEEWAY_SECONDS,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        ).validate(token.claims)
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise OidcSignInRefused("id_token_invalid", detail=type(error).__name__) from None
    claims = dict(token.claims)
    audience = claims["aud"]
    # §3.1.3.7 item 4-5: a token for several audiences names the one it was issued to.
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != client_id:
        raise OidcSignInRefused("id_token_invalid", detail="azp")
    return claims


def _pending(provider: Provider) -> dict[str, Any]:
    pending = session.pop("oidc", None)
    state = request.args.get("state", "")
    if (
        not isinstance(pending, dict)
        or pending.get("provider") != provider.name
        or time.time() - float(pending.get("at", 0)) > PENDING_SECONDS
        or not secrets.compare_digest(str(pending.get("state", "")).encode(), state.encode())
    ):
        # RFC 6749 §10.12: an answer to a sign-in this browser did not start.
        raise OidcSignInRefused("state_invalid", status=400)
    return pending


def _authenticate(provider: Provider) -> tuple[User, str]:
    """The linked account of the person the provider vouches for, and where to go next."""
    pending = _pending(provider)
    if request.args.get("error"):
        raise OidcSignInRefused("provider_refused", error=request.args.get("error", "")[:64])
    metadata = _metadata(provider)
    try:
        token = _client(provider, metadata).fetch_token(
            metadata["token_endpoint"],
            grant_type="authorization_code",
            code=request.args.get("code", ""),
            code_verifier=pending["verifier"],
            verify=provider.verify,
            timeout=TIMEOUT_SECONDS,
        )
        keys = _get_json(provider, metadata["jwks_uri"])
    except (AuthlibBaseError, requests.RequestException, ValueError) as error:
        raise OidcSignInRefused("token_exchange_failed", detail=type(error).__name__) from None
    if "id_token" not in token:
        raise OidcSignInRefused("id_token_missing")
    claims = verify_id_token(
        str(token["id_token"]),
        keys=keys,
        issuer=metadata["issuer"],
        client_id=provider.client_id,
        nonce=pending["nonce"],
    )
    issuer, subject = str(claims["iss"]), str(claims["sub"])
    if provider.required_amr and not set(claims.get("amr") or ()) & set(provider.required_amr):
        raise OidcSignInRefused("authentication_method_insufficient", status=403, subject=subject)
    user = find_oidc_user(issuer=issuer, subject=subject)
    if user is None:
        raise OidcSignInRefused("subject_unknown", status=403, issuer=issuer, subject=subject)
    g.audit.details["user"] = user.username
    if user.agency_id != provider.agency:
        raise OidcSignInRefused("agency_mismatch", status=403, subject=subject)
    if user.disabled_at is not None:
        raise OidcSignInRefused("account_disabled", status=403)
    if user.locked_until is not None and as_utc(user.locked_until) > utcnow():
        raise OidcSignInRefused("account_locked", status=403)
    return user, safe_next(pending.get("next"), url_for("auth.home"))


_MESSAGES = {
    "state_invalid": lambda: _(
        "This sign-in was not started in this browser, or it took too long. Start again."
    ),
    "subject_unknown": lambda: _(
        "Your identity provider account is not linked to an account of this exchange. "
        "Ask the exchange administrator of your agency to link it."
    ),
    "agency_mismatch": lambda: _(
        "Your identity provider account is linked to an account of another agency."
    ),
    "account_disabled": lambda: _("This account is disabled or locked."),
    "account_locked": lambda: _("This account is disabled or locked."),
    "authentication_method_insufficient": lambda: _(
        "Your identity provider did not confirm a second factor. Sign in there again "
        "with your second factor."
    ),
}


@bp.route("/login/oidc/<provider>/callback", methods=["GET"])
@page("auth.oidc.callback", public=True)
def callback(provider: str) -> Response | tuple[str, int]:
    chosen = _provider(provider)
    try:
        user, target = _authenticate(chosen)
    except OidcSignInRefused as refused:
        g.audit.action = "auth.login.failed"
        g.audit.details["reason"] = refused.reason
        g.audit.details.update(refused.details)
        message = _MESSAGES.get(refused.reason, lambda: None)() or _(
            "The identity provider's answer could not be verified. Start again."
        )
        body = render_template("oidc/refused.html", provider=chosen, message=message)
        return body, refused.status
    g.audit.action = "auth.login"
    g.audit.details["method"] = "oidc"
    sign_in_browser(user, address=request.remote_addr or "unknown")
    return redirect(target)
