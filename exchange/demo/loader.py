"""Loading the demo: agencies of all six kinds, systems with bundles, keys, records."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select

from exchange.agencies.models import Agency, System
from exchange.agencies.provisioning import provision_agency_system
from exchange.agencies.service import create_system, get_system, system_actor
from exchange.auth.actor import Actor
from exchange.cli.operator import operator_action
from exchange.clock import rfc3339, utcnow, uuid7
from exchange.demo.records import DEMO_AGENCIES, demo_envelopes
from exchange.demo.referrals import seed_referrals
from exchange.extensions import db
from exchange.pki.bundles import default_api_url, log_verifier_key, write_bundle
from exchange.pki.custodial import create_custodial_key
from exchange.pki.service import issue_certificate_bundle
from exchange.pki.vault import load_vault
from exchange.records.service import PublishContext, Submission, publish_records
from exchange.trail.entries import append_entry
from keys.jcs import canonicalize
from keys.jwk import PrivateSigningKey, public_jwk, thumbprint
from keys.jws import sign_detached
from schemas import RECORD_SIGNATURE_TYPE

SYSTEM = "gateway"
# Its liaison officer tries the web import, signed with a key the exchange holds for it.
CUSTODIAL_AGENCY = "otit"
# The immigration agency's audit office, where the demo's auditor user works too.
AUDITOR_SYSTEM = ("isa", "audit")


@dataclass(frozen=True)
class DemoSummary:
    agencies: int
    systems: int
    records: int
    referrals: int = 0


def sign_envelope(envelope: dict[str, Any], *, key: PrivateSigningKey) -> str:
    kid = thumbprint(public_jwk(key))
    return sign_detached(canonicalize(envelope), key=key, kid=kid, typ=RECORD_SIGNATURE_TYPE)


def load_demo(*, record_count: int = 48, seed: int = 7) -> DemoSummary:
    bundles_dir = Path(current_app.config["EXCHANGE_BUNDLES_DIR"])
    matching_key = load_vault().matching_key
    signing_keys: dict[str, PrivateSigningKey] = {}
    existing = set(db.session.scalars(select(Agency.id)))
    with operator_action("admin.demo.load") as action:
        for index, demo in enumerate(DEMO_AGENCIES):
            if demo.id in existing:
                continue
            provisioned = provision_agency_system(
                actor=action.actor,
                agency_id=demo.id,
                kind=demo.kind,
                name_ja=demo.name_ja,
                name_en=demo.name_en,
                parent_id=demo.parent,
                system_name=SYSTEM,
                bundle_dir=bundles_dir / f"{demo.id}-{SYSTEM}",
                api_url=default_api_url(),
                # Both signature algorithms the exchange accepts appear among the agencies.
                algorithm="ES256" if index % 3 == 2 else "Ed25519",
                key_valid_from=utcnow() - timedelta(days=600),
            )
            signing_keys[demo.id] = provisioned.signing_key
        auditors = _provision_auditor(action.actor, bundles_dir, matching_key=matching_key)
        action.details["agencies"] = len(signing_keys)
    if CUSTODIAL_AGENCY in signing_keys:
        with operator_action("admin.key.custodial", agency=CUSTODIAL_AGENCY) as action:
            created = create_custodial_key(actor=action.actor, agency_id=CUSTODIAL_AGENCY)
            action.details["kid"] = created.kid
    published = _publish_demo_records(
        signing_keys, record_count=record_count, seed=seed, matching_key=matching_key
    )
    # The last record was withdrawn: the referrals are about records still active.
    referrals = seed_referrals(signing_keys, published[:-1])
    return DemoSummary(
        agencies=len(signing_keys),
        systems=len(signing_keys) + auditors,
        records=len(published),
        referrals=referrals,
    )


def auditor_bundle_dir(bundles_dir: Path) -> Path:
    agency_id, name = AUDITOR_SYSTEM
    return bundles_dir / f"{agency_id}-{name}"


def _provision_auditor(actor: Actor, bundles_dir: Path, *, matching_key: bytes) -> int:
    """The auditor system, if missing: reads the access trails and the whole audit log over
    the API. It publishes nothing, so its bundle carries no signing key."""
    agency_id, name = AUDITOR_SYSTEM
    exists = select(System.id).where(System.agency_id == agency_id, System.name == name)
    if db.session.scalar(exists) is not None:
        return 0
    system = create_system(actor=actor, agency_id=agency_id, name=name, roles=("auditor",))
    _, bundle = issue_certificate_bundle(actor=actor, system=system)
    write_bundle(
        auditor_bundle_dir(bundles_dir),
        bundle=bundle,
        api_url=default_api_url(),
        log_key=log_verifier_key(),
        matching_key=matching_key,
    )
    return 1


def _publish_demo_records(
    signing_keys: dict[str, PrivateSigningKey], *, record_count: int, seed: int, matching_key: bytes
) -> list[dict[str, Any]]:
    if not signing_keys:
        return []
    rng = random.Random(seed)
    envelopes = [
        e
        for e in demo_envelopes(seed=seed, count=record_count, matching_key=matching_key)
        if e["publisher"] in signing_keys
    ]
    for envelope in envelopes:
        _publish_as_gateway(envelope, signing_keys[envelope["publisher"]])
    now = rfc3339(utcnow().replace(microsecond=0))
    # A few amendments and one withdrawal, so that version histories show.
    for envelope in rng.sample(envelopes[:-1], k=min(3, len(envelopes) - 1)):
        amended = dict(envelope, version=2, issued_at=now)
        amended["evaluation"] = {"source": "A", "information": "1"}
        _publish_as_gateway(amended, signing_keys[envelope["publisher"]])
    withdrawn = dict(
        envelopes[-1],
        version=2,
        status="withdrawn",
        reason="重複登録のため取り下げ (duplicate entry)",
        issued_at=now,
    )
    _publish_as_gateway(withdrawn, signing_keys[withdrawn["publisher"]])
    return envelopes


def _publish_as_gateway(envelope: dict[str, Any], key: PrivateSigningKey) -> None:
    """Publish through the same service the API uses, audited as the agency's system."""
    system = get_system(envelope["publisher"], SYSTEM)
    agency = system.agency
    actor = system_actor(
        agency_id=agency.id,
        agency_kind=agency.kind,
        agency_parent=agency.parent_id,
        system_id=system.id,
        system_name=system.name,
        roles=system.roles,
    )
    entry: dict[str, Any] = {
        "entry_id": uuid7(),
        "recorded_at": utcnow(),
        "actor": actor,
        "action": "record.publish",
        "status": 201,
        "details": {"via": "demo"},
    }

    context = PublishContext(
        actor=actor,
        received_at=entry["recorded_at"],
        audit_entry_id=entry["entry_id"],
        clock_skew=timedelta(minutes=5),
    )
    submission = Submission(envelope, sign_envelope(envelope, key=key))
    publish_records(context=context, submissions=[submission])
    append_entry(**entry, targets=context.targets)
    db.session.commit()
