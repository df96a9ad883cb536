"""Referral signatures: checked against the agency's key valid at ``issued_at``, and made
with the agency's custodial key for what liaison officers do in the web UI."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from exchange.auth.actor import Actor
from exchange.errors import Kind, Refusal
from exchange.pki.custodial import CustodialSigner, create_custodial_key, custodial_signer
from exchange.records.signing import KeyCache, key_window, public_key
from keys import errors as key_errors
from keys.jcs import canonicalize
from keys.jws import read_header, sign_detached, verify_detached
from schemas.referral import REFERRAL_SIGNATURE_TYPE


@dataclass(frozen=True)
class CheckedSignature:
    kid: str
    # SHA-256 of the token itself: a signature is accepted once (replays are refused).
    digest: str


def signature_invalid(detail: str) -> Refusal:
    return Refusal(
        Kind.INVALID,
        "referral_signature_invalid",
        "Signature invalid",
        detail,
        errors=[{"pointer": "/signature", "detail": detail}],
    )


def verify_referral_signature(
    *, signature: Any, canonical: bytes, agency: str, issued_at: datetime, keys: KeyCache
) -> CheckedSignature:
    """The detached JWS over ``canonical`` by a key of ``agency`` that could sign at
    ``issued_at``; anything else is ``referral_signature_invalid``, with the reason."""
    if not isinstance(signature, str):
        raise signature_invalid("A compact JWS string is required.")
    try:
        header = read_header(signature)
    except key_errors.Error as error:
        raise signature_invalid(f"Malformed: {error}") from None
    key = keys.get(header.kid)
    if key is None or key.agency_id != agency:
        raise signature_invalid(f"No key {header.kid[:64]!r} of {agency!r}.")
    if key.status == "revoked":
        raise signature_invalid(f"Key {key.kid} was revoked.")
    outside = key_window(key, issued_at)
    if outside is not None:
        raise signature_invalid(f"Key {key.kid} could not sign at issued_at ({outside}).")
    try:
        verify_detached(signature, canonical, key=public_key(key), typ=REFERRAL_SIGNATURE_TYPE)
    except key_errors.Error:
        raise signature_invalid("The signature does not match the document.") from None
    return CheckedSignature(kid=key.kid, digest=signature_digest(signature))


def signature_digest(signature: str) -> str:
    return hashlib.sha256(signature.encode("utf-8")).hexdigest()


def agency_signer(actor: Actor, details: dict[str, Any]) -> CustodialSigner:
    """The custodial key of the actor's agency, created the first time it is needed."""
    agency_id = actor.agency_id or ""
    signer = custodial_signer(agency_id)
    if signer is None:
        key = create_custodial_key(actor=actor, agency_id=agency_id)
        details["custodial_key_created"] = key.kid
        signer = custodial_signer(agency_id)
        assert signer is not None
    return signer


def sign_document(document: dict[str, Any], signer: CustodialSigner) -> str:
    return sign_detached(
        canonicalize(document), key=signer.key, kid=signer.kid, typ=REFERRAL_SIGNATURE_TYPE
    )
