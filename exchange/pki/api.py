"""Signing keys of the caller's agency (``/api/v1/keys``), and the public PKI documents."""

from __future__ import annotations

import contextlib
from datetime import datetime

import marshmallow as ma
from flask import Blueprint as FlaskBlueprint
from flask import Response, g, jsonify
from flask.typing import ResponseReturnValue

from exchange.apiblueprint import Blueprint
from exchange.auth.mtls import require_system
from exchange.client.trust import TRUST_HEADER
from exchange.jsonbody import load_body
from exchange.pki.service import (
    crl_pem,
    key_document,
    register_signing_key,
    retire_signing_key,
    revoke_signing_key,
)
from exchange.pki.vault import VaultMissing, load_vault
from exchange.trail.recorder import audited
from keys.pop import PROOF_TYPE

bp = Blueprint("keys", __name__, url_prefix="/api/v1/keys", description="Record-signing keys")
bp.before_request(require_system)

public_bp = FlaskBlueprint("pki", __name__)


@public_bp.after_app_request
def announce_trust(response: Response) -> Response:
    """Name the CA certificates of /pki/ca.pem, which clients follow (exchange.client.trust)."""
    with contextlib.suppress(VaultMissing):
        response.headers[TRUST_HEADER] = f"sha-256={load_vault().trust_digest}"
    return response


class KeyRegistrationSchema(ma.Schema):
    jwk = ma.fields.Dict(
        required=True, metadata={"description": "Public JWK (OKP Ed25519 or EC P-256)"}
    )
    proof = ma.fields.String(
        required=True,
        metadata={
            "description": "Proof of possession: a compact JWS (RFC 7515 §7.1, payload "
            f'attached) signed by the key being registered, protected header {{"alg": '
            f'"Ed25519" or "ES256", "kid": the key\'s RFC 7638 thumbprint, "typ": '
            f'"{PROOF_TYPE}"}}, payload the RFC 8785 (JCS) bytes of exactly {{"agency": '
            'the caller\'s agency id, "kid": the same thumbprint, "iat": seconds since the '
            "epoch as an integer}. Accepted for 10 minutes after iat, and up to a minute "
            "before it."
        },
    )
    not_after = ma.fields.AwareDateTime(load_default=None)


class KeyRevocationSchema(ma.Schema):
    compromised_at = ma.fields.AwareDateTime(
        required=True,
        metadata={"description": "From when signatures by this key are not to be trusted"},
    )


@bp.route("", methods=["POST"])
@bp.doc(
    summary="Register a public signing key for the caller's agency",
    requestBody={
        "required": True,
        "content": {"application/json": {"schema": KeyRegistrationSchema}},
    },
)
@bp.response(201, description="The registered key with its status")
@audited("key.register")
def register() -> ResponseReturnValue:
    body = load_body(KeyRegistrationSchema())
    not_after = body["not_after"]
    key = register_signing_key(
        actor=g.actor,
        agency_id=g.actor.agency_id,
        jwk=body["jwk"],
        proof=str(body["proof"]),
        not_after=not_after if isinstance(not_after, datetime) else None,
    )
    g.audit.details["kid"] = key.kid
    return jsonify(key_document(key)), 201


@bp.route("/<string:kid>/retire", methods=["POST"])
@bp.response(200, description="The retired key")
@audited("key.retire")
def retire(kid: str) -> ResponseReturnValue:
    g.audit.details["kid"] = kid[:64]
    return jsonify(key_document(retire_signing_key(actor=g.actor, kid=kid[:64])))


@bp.route("/<string:kid>/revoke", methods=["POST"])
@bp.doc(
    requestBody={"required": True, "content": {"application/json": {"schema": KeyRevocationSchema}}}
)
@bp.response(200, description="The revoked key")
@audited("key.revoke")
def revoke(kid: str) -> ResponseReturnValue:
    body = load_body(KeyRevocationSchema())
    g.audit.details["kid"] = kid[:64]
    compromised_at = body["compromised_at"]
    assert isinstance(compromised_at, datetime)
    return jsonify(
        key_document(revoke_signing_key(actor=g.actor, kid=kid[:64], compromised_at=compromised_at))
    )


@public_bp.route("/pki/ca.pem")
@audited("pki.ca.read")
def ca_certificate() -> ResponseReturnValue:
    return Response(load_vault().trust_pem, mimetype="application/x-pem-file")


@public_bp.route("/pki/crl.pem")
@audited("pki.crl.read")
def crl() -> ResponseReturnValue:
    return Response(crl_pem(), mimetype="application/x-pem-file")


@public_bp.route("/.well-known/jwks.json")
@audited("pki.jwks.read")
def jwks() -> ResponseReturnValue:
    return jsonify(load_vault().jwks())


@public_bp.route("/.well-known/exchange.json")
@audited("service.read")
def service() -> ResponseReturnValue:
    return jsonify(
        {
            "service": "inter-agency information-sharing exchange",
            "api": "/api/v1/openapi.json",
            "ca": "/pki/ca.pem",
            "crl": "/pki/crl.pem",
            "jwks": "/.well-known/jwks.json",
        }
    )
