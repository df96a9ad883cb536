"""Sign-in through an agency's OpenID Connect identity provider, with authlib's Flask client.

Providers are configured in ``EXCHANGE_OIDC_PROVIDERS`` (exchange.config). A person signs in
to the exchange account already linked to the ID token's (issuer, subject) and belonging to
the provider's agency; nobody gets an account by signing in.
"""

from __future__ import annotations

import time
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import MismatchingStateError
from authlib.integrations.flask_client import FlaskOAuth2App, OAuth
from authlib.integrations.requests_client import OAuth2Session
from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from joserfc.errors import JoseError
from werkzeug.wrappers import Response

from exchange.auth.models import User
from exchange.auth.service import find_oidc_user
from exchange.clock import as_utc, utcnow
from exchange.problems import Problem
from exchange.ui.access import enter_page, page, safe_next, sign_in_browser

bp = Blueprint("oidc", __name__)
bp.before_request(enter_page)

REQUIRED_SETTINGS = ("agency", "metadata_url", "client_id")
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


class _ProviderSession(OAuth2Session):
    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        # requests lets REQUESTS_CA_BUNDLE override a session's own ``verify``; the CA
        # configured for this provider must win.
        kwargs.setdefault("verify", self.verify)
        response: requests.Response = super().request(*args, **kwargs)
        return response


class _ProviderClient(FlaskOAuth2App):
    client_cls = _ProviderSession


@bp.record_once
def _register_providers(state: BlueprintSetupState) -> None:
    # A registry per application: authlib's OAuth object binds one app and caches its clients.
    registry = OAuth(state.app)
    for name, settings in state.app.config["EXCHANGE_OIDC_PROVIDERS"].items():
        if not isinstance(settings, dict) or not all(settings.get(k) for k in REQUIRED_SETTINGS):
            continue
        registry.register(
            name,
            client_cls=_ProviderClient,
            client_id=settings["client_id"],
            client_secret=settings.get("client_secret", ""),
            server_metadata_url=settings["metadata_url"],
            client_kwargs={
                "scope": "openid",
                "code_challenge_method": "S256",  # RFC 7636
                "verify": settings.get("ca_file") or True,
                "default_timeout": TIMEOUT_SECONDS,
            },
        )


def _client(name: str) -> tuple[Any, dict[str, Any]]:
    """The registered client of a provider, with its discovery document checked."""
    settings = (current_app.config.get("EXCHANGE_OIDC_PROVIDERS") or {}).get(name)
    if not isinstance(settings, dict):
        raise Problem(404, "provider_unknown", "No such identity provider")
    g.audit.details["provider"] = name
    client = current_app.extensions["authlib.integrations.flask_client"].create_client(name)
    if client is None:
        current_app.logger.error("identity provider %s: %s missing", name, REQUIRED_SETTINGS)
        raise Problem(
            503, "provider_misconfigured", "Identity provider not available", _UNAVAILABLE
        )
    try:
        _check_metadata(client.load_server_metadata(), settings["metadata_url"])
    except (requests.RequestException, ValueError, KeyError) as error:
        client.server_metadata.clear()  # fetch it again at the next attempt
        current_app.logger.warning("identity provider %s: %s", name, error)
        raise Problem(
            502, "provider_unavailable", "Identity provider not available", _UNAVAILABLE
        ) from None
    return client, settings


def _check_metadata(metadata: dict[str, Any], url: str) -> None:
    """OpenID Connect Discovery 1.0 §4, narrowed to what this exchange accepts."""
    # §4.3: the issuer is the URL the document was fetched under.
    if url != str(metadata["issuer"]).rstrip("/") + "/.well-known/openid-configuration":
        raise ValueError("the issuer does not match the metadata URL")
    for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not str(metadata[endpoint]).startswith("https://"):
            raise ValueError(f"{endpoint} is not https")
    # authlib verifies ID tokens with the algorithms the document lists: only ours.
    offered = metadata.get("id_token_signing_alg_values_supported") or ALGORITHMS
    metadata["id_token_signing_alg_values_supported"] = [a for a in offered if a in ALGORITHMS]
    if not metadata["id_token_signing_alg_values_supported"]:
        raise ValueError("no acceptable ID token signing algorithm")
    # authlib passes the document's entries to its session; client_secret_basic is the
    # default of OpenID Connect Core §9, client_secret_post for providers without it.
    methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    if "client_secret_basic" not in methods:
        metadata["token_endpoint_auth_method"] = "client_secret_post"  # noqa: S105 a name


@bp.route("/login/oidc/<provider>", methods=["GET"])
@page("auth.oidc.begin", public=True)
def begin(provider: str) -> Response:
    client, _settings = _client(provider)
    session["oidc"] = {
        "provider": provider,
        "next": safe_next(request.args.get("next"), ""),
        "at": time.time(),
    }
    # authlib keeps state, nonce and PKCE verifier in the session, keyed by the state.
    response: Response = client.authorize_redirect(
        url_for("oidc.callback", provider=provider, _external=True)
    )
    return response


def _authenticate(provider: str, client: Any, settings: dict[str, Any]) -> tuple[User, str]:
    """The linked account of the person the provider vouches for, and where to go next."""
    pending = session.pop("oidc", None)
    if (
        not isinstance(pending, dict)
        or pending.get("provider") != provider
        or time.time() - float(pending.get("at", 0)) > PENDING_SECONDS
    ):
        # RFC 6749 §10.12: an answer to a sign-in this browser did not start.
        raise OidcSignInRefused("state_invalid", status=400)
    if request.args.get("error"):
        raise OidcSignInRefused("provider_refused", error=request.args.get("error", "")[:64])
    # OpenID Connect Core §3.1.3.7: authlib checks the signature, exp, iat, nonce and azp;
    # it checks iss and aud only as told.
    expected = {
        "iss": {"essential": True, "value": client.server_metadata["issuer"]},
        "aud": {"essential": True, "value": client.client_id},
    }
    try:
        token = client.authorize_access_token(claims_options=expected, leeway=CLOCK_LEEWAY_SECONDS)
    except MismatchingStateError:
        raise OidcSignInRefused("state_invalid", status=400) from None
    except JoseError as error:
        raise OidcSignInRefused("id_token_invalid", detail=type(error).__name__) from None
    except (AuthlibBaseError, requests.RequestException, ValueError) as error:
        raise OidcSignInRefused("token_exchange_failed", detail=type(error).__name__) from None
    claims = token.get("userinfo")
    if not claims:
        raise OidcSignInRefused("id_token_missing")
    issuer, subject = str(claims["iss"]), str(claims["sub"])
    # The agency's provider authenticates its staff with the factors the agency's rules
    # require, so no TOTP is asked on top; required_amr (RFC 8176) insists on a method.
    required_amr = set(settings.get("required_amr") or ())
    if required_amr and not set(claims.get("amr") or ()) & required_amr:
        raise OidcSignInRefused("authentication_method_insufficient", status=403, subject=subject)
    user = find_oidc_user(issuer=issuer, subject=subject)
    if user is None:
        raise OidcSignInRefused("subject_unknown", status=403, issuer=issuer, subject=subject)
    g.audit.details["user"] = user.username
    if user.agency_id != settings["agency"]:
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
    client, settings = _client(provider)
    try:
        user, target = _authenticate(provider, client, settings)
    except OidcSignInRefused as refused:
        g.audit.action = "auth.login.failed"
        g.audit.details["reason"] = refused.reason
        g.audit.details.update(refused.details)
        message = _MESSAGES.get(refused.reason, lambda: None)() or _(
            "The identity provider's answer could not be verified. Start again."
        )
        label = str(settings.get("label", provider))
        return render_template("oidc/refused.html", label=label, message=message), refused.status
    g.audit.action = "auth.login"
    g.audit.details["method"] = "oidc"
    sign_in_browser(user, address=request.remote_addr or "unknown")
    return redirect(target)
