"""Client certificates and agency signing keys, as the database knows them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select

from exchange.agencies.models import Agency, System
from exchange.agencies.service import get_agency
from exchange.auth.actor import Actor
from exchange.clock import as_utc, rfc3339, utcnow
from exchange.errors import Kind, Refusal
from exchange.extensions import db
from exchange.pki.models import Certificate, SigningKey
from exchange.pki.vault import load_vault
from keys import errors as key_errors
from keys.ca import ClientBundle, IssuedCertificate, Revocation
from keys.jwk import algorithm_for, load_public_jwk, public_jwk, thumbprint
from keys.pop import verify_proof

REGISTRATION_SKEW = timedelta(minutes=5)

REVOCATION_REASONS = (
    "unspecified",
    "key_compromise",
    "affiliation_changed",
    "superseded",
    "cessation_of_operation",
)


def _store_certificate(system: System, issued: IssuedCertificate) -> Certificate:
    certificate = Certificate(
        fingerprint=issued.fingerprint,
        system_id=system.id,
        serial=str(issued.serial),
        pem=issued.certificate_pem,
        not_before=issued.not_before,
        not_after=issued.not_after,
        issued_at=utcnow(),
    )
    db.session.add(certificate)
    db.session.flush()
    return certificate


def issue_certificate_from_csr(
    *, actor: Actor, system: System, csr_pem: str | bytes, valid_days: int = 397
) -> Certificate:
    try:
        issued = load_vault().client_ca.issue_client_certificate(
            csr_pem=csr_pem, agency=system.agency_id, system=system.name, valid_days=valid_days
        )
    except key_errors.Error as error:
        raise Refusal(Kind.INVALID, error.code, "Certificate request refused", str(error)) from None
    return _store_certificate(system, issued)


def issue_certificate_bundle(
    *, actor: Actor, system: System, valid_days: int = 397, now: datetime | None = None
) -> tuple[Certificate, ClientBundle]:
    vault = load_vault()
    bundle = vault.client_ca.generate_client_bundle(
        agency=system.agency_id, system=system.name, valid_days=valid_days, now=now
    )
    # Both CAs during a rotation: the bundle then works on either side of it.
    bundle = replace(bundle, ca_certificate_pem=vault.trust_pem)
    return _store_certificate(system, bundle.certificate), bundle


def find_certificate(fingerprint: str) -> Certificate:
    certificate = db.session.get(Certificate, fingerprint)
    if certificate is None:
        raise Refusal(Kind.NOT_FOUND, "certificate_not_found", "No such certificate")
    return certificate


def revoke_certificate(*, actor: Actor, fingerprint: str, reason: str) -> Certificate:
    if reason not in REVOCATION_REASONS:
        raise Refusal(
            Kind.INVALID,
            "reason_invalid",
            "Unknown revocation reason",
            ", ".join(REVOCATION_REASONS),
        )
    certificate = find_certificate(fingerprint)
    if certificate.revoked_at is None:
        certificate.revoked_at = utcnow()
        certificate.revocation_reason = reason
        db.session.flush()
    return certificate


def crl_pem() -> str:
    revoked = db.session.execute(
        select(Certificate.serial, Certificate.revoked_at, Certificate.revocation_reason).where(
            Certificate.revoked_at.is_not(None)
        )
    ).all()
    return load_vault().ca.crl_pem(
        revocations=[
            Revocation(serial=int(serial), revoked_at=as_utc(at), reason=reason or "unspecified")
            for serial, at, reason in revoked
            if at is not None
        ]
    )


@dataclass(frozen=True)
class SystemIdentity:
    """What a certificate's fingerprint maps to, read in one query on every request."""

    revoked_at: datetime | None
    not_before: datetime
    not_after: datetime
    system_id: int
    system_name: str
    roles: str
    agency_id: str
    agency_kind: str
    agency_parent: str | None


_certificate, _system, _agency = Certificate.__table__, System.__table__, Agency.__table__
_IDENTIFY = (
    select(
        _certificate.c.revoked_at,
        _certificate.c.not_before,
        _certificate.c.not_after,
        _system.c.id,
        _system.c.name,
        _system.c.roles,
        _agency.c.id,
        _agency.c.kind,
        _agency.c.parent_id,
    )
    .select_from(
        _certificate.join(_system, _certificate.c.system_id == _system.c.id).join(
            _agency, _system.c.agency_id == _agency.c.id
        )
    )
    .where(_certificate.c.fingerprint == bindparam("fingerprint"))
)


def identify_certificate(fingerprint: str) -> SystemIdentity | None:
    row = db.session.execute(_IDENTIFY, {"fingerprint": fingerprint}).first()
    return None if row is None else SystemIdentity(*row)


# Signing keys ---------------------------------------------------------------------


def register_signing_key(
    *,
    actor: Actor,
    agency_id: str,
    jwk: Mapping[str, Any],
    proof: str,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> SigningKey:
    """Register a public JWK; the proof shows the agency holds the private half."""
    get_agency(agency_id)
    try:
        public_key = load_public_jwk(jwk)
        verify_proof(proof, jwk=jwk, agency=agency_id)
    except key_errors.Error as error:
        raise Refusal(Kind.INVALID, error.code, "Signing key refused", str(error)) from None
    clean = public_jwk(public_key)
    kid = thumbprint(clean)
    existing = db.session.get(SigningKey, kid)
    if existing is not None:
        if existing.agency_id != agency_id:
            raise Refusal(Kind.CONFLICT, "key_exists", "Key registered to another agency")
        return existing
    now = utcnow()
    if not_after is not None and not_after <= (not_before or now):
        raise Refusal(Kind.INVALID, "key_validity_invalid", "not_after must follow not_before")
    key = SigningKey(
        kid=kid,
        agency_id=agency_id,
        alg=algorithm_for(public_key),
        jwk=json.dumps(clean, sort_keys=True),
        status="active",
        # An agency signs right after registering, by its own clock: allow for skew.
        not_before=not_before or now.replace(microsecond=0) - REGISTRATION_SKEW,
        not_after=not_after,
        registered_at=now,
    )
    db.session.add(key)
    db.session.flush()
    return key


def get_signing_key(kid: str) -> SigningKey:
    key = db.session.get(SigningKey, kid)
    if key is None:
        raise Refusal(Kind.NOT_FOUND, "key_not_found", "No such signing key")
    return key


def _own_key(actor: Actor, kid: str) -> SigningKey:
    key = get_signing_key(kid)
    if actor.kind == "system" and key.agency_id != actor.agency_id:
        # Another agency's key: answer as if it did not exist.
        raise Refusal(Kind.NOT_FOUND, "key_not_found", "No such signing key")
    return key


def retire_signing_key(*, actor: Actor, kid: str) -> SigningKey:
    """Rotation: the key stays valid for what it signed before it was retired."""
    key = _own_key(actor, kid)
    if key.status == "active":
        key.status = "retired"
        key.retired_at = utcnow()
        db.session.flush()
    return key


def revoke_signing_key(*, actor: Actor, kid: str, compromised_at: datetime) -> SigningKey:
    key = _own_key(actor, kid)
    now = utcnow()
    if compromised_at > now:
        raise Refusal(
            Kind.INVALID, "compromised_at_invalid", "The compromise time is in the future"
        )
    if key.status != "revoked" or (key.compromised_at and compromised_at < key.compromised_at):
        key.status = "revoked"
        key.revoked_at = key.revoked_at or now
        key.compromised_at = compromised_at
        db.session.flush()
    return key


def agency_keys(agency_id: str) -> list[SigningKey]:
    return list(
        db.session.scalars(
            select(SigningKey)
            .where(SigningKey.agency_id == agency_id)
            .order_by(SigningKey.registered_at)
        )
    )


def key_document(key: SigningKey) -> dict[str, Any]:
    """A JWK with the status history a verifier needs to judge old signatures."""
    document: dict[str, Any] = dict(json.loads(key.jwk))
    document.update({"kid": key.kid, "alg": key.alg, "use": "sig", "status": key.status})
    if key.custodial:
        # Held by the exchange for the agency: its records were signed on the agency's behalf.
        document["custodial"] = True
    document["not_before"] = rfc3339(key.not_before)
    for name in ("not_after", "retired_at", "revoked_at", "compromised_at"):
        value = getattr(key, name)
        if value is not None:
            document[name] = rfc3339(value)
    return document
