"""Mutual-TLS identity: the certificate's fingerprint, looked up in the database.

The TLS layer has already checked that the certificate chains to the exchange's CA. What
it cannot know — whether the certificate is registered, revoked or past its dates — is
decided here, after the handshake, so that each refusal is an audited ``auth.denied``.
"""

from __future__ import annotations

import hashlib
import ssl

from flask import g, request

from exchange.agencies.service import system_actor
from exchange.auth.actor import Actor
from exchange.clock import utcnow
from exchange.pki.service import identify_certificate
from exchange.problems import Problem

CLIENT_CERT_FINGERPRINT = "exchange.client_cert_sha256"


def client_fingerprint() -> str | None:
    """SHA-256 of the client certificate's DER, from the serving layer's environ."""
    environ = request.environ
    fingerprint = environ.get(CLIENT_CERT_FINGERPRINT)
    if fingerprint:
        return str(fingerprint)
    pem = environ.get("SSL_CLIENT_CERT")
    if not pem:
        return None
    fingerprint = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()
    environ[CLIENT_CERT_FINGERPRINT] = fingerprint
    return fingerprint


def _denied(status: int, code: str, title: str, detail: str) -> Problem:
    g.audit.action = "auth.denied"
    g.audit.details["reason"] = code
    return Problem(status, code, title, detail)


def authenticate_system() -> Actor:
    """The calling system, or an audited refusal."""
    address = request.remote_addr
    fingerprint = client_fingerprint()
    if fingerprint is None:
        g.actor = Actor(kind="anonymous", address=address)
        raise _denied(
            401,
            "certificate_required",
            "Client certificate required",
            "This API is served over mutual TLS only.",
        )
    identity = identify_certificate(fingerprint)
    if identity is None:
        g.actor = Actor(kind="anonymous", fingerprint=fingerprint, address=address)
        raise _denied(
            401,
            "certificate_unknown",
            "Unknown certificate",
            "The certificate is not registered for any system.",
        )
    actor = system_actor(
        agency_id=identity.agency_id,
        agency_kind=identity.agency_kind,
        agency_parent=identity.agency_parent,
        system_id=identity.system_id,
        system_name=identity.system_name,
        roles=identity.roles,
        fingerprint=fingerprint,
        address=address,
    )
    g.actor = actor
    if identity.revoked_at is not None:
        raise _denied(
            403,
            "certificate_revoked",
            "Certificate revoked",
            "The certificate was revoked; ask the exchange for a new one.",
        )
    now = utcnow()
    if now < identity.not_before or now >= identity.not_after:
        raise _denied(
            401,
            "certificate_expired",
            "Certificate expired or not yet valid",
            "The certificate is outside its validity period.",
        )
    return actor


def require_system() -> None:
    """``before_request`` hook of the API blueprints."""
    authenticate_system()
