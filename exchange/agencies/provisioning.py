"""Provisioning an agency system in one step: agency, system, client bundle, signing key.

The demo, the tests and the benchmarks all stand agencies up this way; a real agency
sends a CSR and its own public key instead (``exchange system issue --csr``,
``exchange key register``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from exchange.agencies.service import create_agency, create_system
from exchange.auth.actor import Actor
from exchange.clock import utcnow
from exchange.pki.bundles import log_verifier_key, write_bundle
from exchange.pki.service import issue_certificate_bundle, register_signing_key
from exchange.pki.vault import load_vault
from keys.ca import ClientBundle
from keys.jwk import (
    PrivateSigningKey,
    SigningAlgorithm,
    generate_signing_key,
    private_jwk,
    public_jwk,
)
from keys.pop import make_proof


@dataclass(frozen=True)
class ProvisionedSystem:
    agency: str
    system: str
    bundle: ClientBundle
    bundle_dir: Path
    signing_key: PrivateSigningKey
    kid: str


def provision_agency_system(
    *,
    actor: Actor,
    agency_id: str,
    kind: str,
    name_ja: str,
    name_en: str,
    bundle_dir: Path,
    api_url: str,
    parent_id: str | None = None,
    system_name: str = "gateway",
    roles: tuple[str, ...] = (),
    algorithm: SigningAlgorithm = "Ed25519",
    valid_days: int = 397,
    now: datetime | None = None,
    key_valid_from: datetime | None = None,
) -> ProvisionedSystem:
    """Create the rows (the caller commits) and write the bundle with a signing key."""
    create_agency(
        actor=actor,
        agency_id=agency_id,
        kind=kind,
        name_ja=name_ja,
        name_en=name_en,
        parent_id=parent_id,
    )
    system = create_system(actor=actor, agency_id=agency_id, name=system_name, roles=roles)
    _, bundle = issue_certificate_bundle(actor=actor, system=system, valid_days=valid_days, now=now)
    key = generate_signing_key(algorithm)
    registered = register_signing_key(
        actor=actor,
        agency_id=agency_id,
        jwk=public_jwk(key),
        proof=make_proof(key=key, agency=agency_id),
        not_before=key_valid_from or utcnow() - timedelta(days=365),
    )
    write_bundle(
        bundle_dir,
        bundle=bundle,
        api_url=api_url,
        log_key=log_verifier_key(),
        matching_key=load_vault().matching_key,
        signing_jwk=private_jwk(key),
        signing_kid=registered.kid,
    )
    return ProvisionedSystem(
        agency=agency_id,
        system=system_name,
        bundle=bundle,
        bundle_dir=bundle_dir,
        signing_key=key,
        kid=registered.kid,
    )
