"""Custodial signing keys: held by the exchange for an agency without a system of its own, so
its liaison officers can publish from the web import. Registered like any agency key and
flagged ``custodial`` in the agency's JWKS and on the record page; what it signs is
attributed to the agency's ``custodial`` system, which has no certificate.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from exchange.agencies.models import System
from exchange.agencies.service import create_system, get_agency
from exchange.auth.actor import Actor
from exchange.clock import utcnow
from exchange.errors import Kind, Refusal
from exchange.extensions import db
from exchange.pki.models import CustodialKey, SigningKey
from exchange.pki.service import register_signing_key
from exchange.pki.vault import load_vault
from keys.jwk import PrivateSigningKey, generate_signing_key, public_jwk
from keys.pop import make_proof
from keys.storage import decrypt_private_key, encrypt_private_key

CUSTODIAL_SYSTEM = "custodial"


@dataclass(frozen=True)
class CustodialSigner:
    key: PrivateSigningKey
    kid: str
    system: System


def _custodial_system(actor: Actor, agency_id: str) -> System:
    system = db.session.scalar(
        select(System).where(System.agency_id == agency_id, System.name == CUSTODIAL_SYSTEM)
    )
    return system or create_system(actor=actor, agency_id=agency_id, name=CUSTODIAL_SYSTEM)


def create_custodial_key(*, actor: Actor, agency_id: str) -> SigningKey:
    """A new Ed25519 key for ``agency_id``, held sealed by the exchange; the agency's earlier
    custodial keys stay valid for what they signed, as in any rotation."""
    get_agency(agency_id)
    private = generate_signing_key("Ed25519")
    key = register_signing_key(
        actor=actor,
        agency_id=agency_id,
        jwk=public_jwk(private),
        proof=make_proof(key=private, agency=agency_id),
    )
    key.custodial = True
    now = utcnow()
    for earlier in _active_custodial_keys(agency_id):
        if earlier.kid != key.kid:
            earlier.status, earlier.retired_at = "retired", now
    sealed = encrypt_private_key(private, passphrase=load_vault().passphrase)
    db.session.add(
        CustodialKey(kid=key.kid, agency_id=agency_id, sealed_key=sealed.decode(), created_at=now)
    )
    _custodial_system(actor, agency_id)
    db.session.flush()
    return key


def _active_custodial_keys(agency_id: str) -> list[SigningKey]:
    return list(
        db.session.scalars(
            select(SigningKey).where(
                SigningKey.agency_id == agency_id,
                SigningKey.custodial.is_(True),
                SigningKey.status == "active",
            )
        )
    )


def custodial_signer(agency_id: str) -> CustodialSigner | None:
    """The agency's active custodial key, unsealed, or None when the exchange holds none."""
    row = db.session.execute(
        select(SigningKey, CustodialKey)
        .join(CustodialKey, CustodialKey.kid == SigningKey.kid)
        .where(SigningKey.agency_id == agency_id, SigningKey.status == "active")
        .order_by(SigningKey.registered_at.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    key, sealed = row
    system = db.session.scalar(
        select(System).where(System.agency_id == agency_id, System.name == CUSTODIAL_SYSTEM)
    )
    if system is None:
        raise Refusal(Kind.CONFLICT, "custodial_system_missing", "No custodial system")
    private = decrypt_private_key(sealed.sealed_key.encode(), passphrase=load_vault().passphrase)
    return CustodialSigner(key=private, kid=key.kid, system=system)
