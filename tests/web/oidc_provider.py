"""A small OpenID provider standing in for an agency's identity provider in tests.

It is outside the exchange, so a test double is right; but it speaks real HTTP over TLS
(its certificate from a CA of its own, which the exchange is told to trust by ``ca_file``)
and signs real RS256 ID tokens, so the exchange's client code runs exactly as it would.
/authorize approves ``behaviour.subject`` at once and redirects back with a code; the
token endpoint checks the client's secret and the PKCE verifier before answering.
Misbehaviour for refusal tests is switched on through ``behaviour``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from keys.ca import CertificateAuthority

KEY_ID = "agency-idp-1"


@dataclass
class Behaviour:
    """What the provider does at the next sign-in; tests change it, reset() restores it."""

    subject: str = "officer-1"
    amr: list[str] = field(default_factory=lambda: ["pwd", "otp", "mfa"])
    nonce: str | None = None  # a nonce other than the one asked for
    forged: bool = False  # signed by a key that is not published (same key id)
    audience: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)  # over the usual ones; None drops one
    tamper: Callable[[str], str] | None = None  # rewrites the signed ID token


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    nonce: str
    challenge: str
    subject: str


class OpenIDProvider:
    def __init__(self, directory: Path, *, client_id: str, client_secret: str) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.key = RSAKey.generate_key(2048, parameters={"kid": KEY_ID, "use": "sig"})
        self.forger = RSAKey.generate_key(2048, parameters={"kid": KEY_ID, "use": "sig"})
        self.behaviour = Behaviour()
        self.grants: dict[str, Grant] = {}
        self.authorize_requests: list[dict[str, str]] = []
        ca = CertificateAuthority.create(common_name="Agency IdP test CA", organization="idp")
        issued, key_pem = ca.issue_server_certificate(
            hostnames=["localhost"], ip_addresses=["127.0.0.1"]
        )
        directory.mkdir(parents=True, exist_ok=True)
        self.ca_file = directory / "idp-ca.pem"
        self.ca_file.write_text(ca.certificate_pem)
        (directory / "idp.pem").write_text(issued.certificate_pem)
        (directory / "idp.key.pem").write_text(key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(directory / "idp.pem", directory / "idp.key.pem")
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, self._application, threaded=True, ssl_context=context
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def issuer(self) -> str:
        return f"https://127.0.0.1:{self._server.server_port}"

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        self.behaviour = Behaviour()

    def id_token(self, **claims: Any) -> str:
        """An ID token for the client, signed by the published key unless told otherwise."""
        now = int(time.time())
        body = {
            "iss": self.issuer,
            "sub": self.behaviour.subject,
            "aud": self.behaviour.audience or self.client_id,
            "iat": now,
            "exp": now + 300,
            "auth_time": now,
            "amr": self.behaviour.amr,
            **claims,
            **self.behaviour.claims,
        }
        body = {name: value for name, value in body.items() if value is not None}
        key = self.forger if self.behaviour.forged else self.key
        return jwt.encode({"alg": "RS256", "kid": KEY_ID}, body, key)

    # -- HTTP ---------------------------------------------------------------------------

    def _application(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        routes = {
            "/.well-known/openid-configuration": self._discovery,
            "/jwks": self._jwks,
            "/authorize": self._authorize,
            "/token": self._token,
        }
        handler = routes.get(request.path)
        response = handler(request) if handler else Response("not found", status=404)
        return response(environ, start_response)

    def _discovery(self, request: Request) -> Response:
        return _json(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            }
        )

    def _jwks(self, request: Request) -> Response:
        return _json({"keys": [self.key.as_dict(private=False)]})

    def _authorize(self, request: Request) -> Response:
        asked = dict(request.args)
        self.authorize_requests.append(asked)
        if (
            asked.get("client_id") != self.client_id
            or asked.get("response_type") != "code"
            or "openid" not in asked.get("scope", "").split()
            or asked.get("code_challenge_method") != "S256"
            or not asked.get("code_challenge")
            or not asked.get("redirect_uri")
        ):
            return Response("invalid authorization request", status=400)
        code = secrets.token_urlsafe(24)
        self.grants[code] = Grant(
            client_id=asked["client_id"],
            redirect_uri=asked["redirect_uri"],
            nonce=asked.get("nonce", ""),
            challenge=asked["code_challenge"],
            subject=self.behaviour.subject,
        )
        answer = urlencode({"code": code, "state": asked.get("state", "")})
        return Response(status=302, headers={"Location": f"{asked['redirect_uri']}?{answer}"})

    def _token(self, request: Request) -> Response:
        auth = request.authorization
        if auth is None or (auth.username, auth.password) != (self.client_id, self.client_secret):
            return _json({"error": "invalid_client"}, 401)
        grant = self.grants.pop(request.form.get("code", ""), None)
        verifier = request.form.get("code_verifier", "")
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        if (
            grant is None
            or request.form.get("grant_type") != "authorization_code"
            or request.form.get("redirect_uri") != grant.redirect_uri
            or challenge != grant.challenge  # RFC 7636 §4.6
        ):
            return _json({"error": "invalid_grant"}, 400)
        id_token = self.id_token(
            sub=grant.subject,
            nonce=self.behaviour.nonce if self.behaviour.nonce is not None else grant.nonce,
        )
        if self.behaviour.tamper is not None:
            id_token = self.behaviour.tamper(id_token)
        return _json(
            {
                "access_token": secrets.token_urlsafe(24),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
            }
        )


def _json(document: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(document), status=status, mimetype="application/json")
