"""Who may refer what to whom: deny by default, data rather than code, versioned.

The rules map a referral kind to the sending agency kinds and, for each, the kinds of
agency it may refer to. The defaults follow the comprehensive measures' hand-offs:
immigration notifies labour bureaus, OTIT and the police of violations (204, 210), the
police tell immigration and MOFA about schools (197), MOFA answers immigration about visa
screening, and any agency may give the police a prepared criminal complaint.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from exchange.agencies.models import AGENCY_KINDS
from exchange.auth.actor import Actor
from exchange.clock import utcnow
from exchange.errors import Kind, Refusal
from exchange.extensions import db
from exchange.referrals.models import ReferralPolicyVersion
from schemas.referral import REFERRAL_KINDS

Rules = Mapping[str, Mapping[str, Sequence[str]]]

DEFAULT_REFERRAL_RULES: dict[str, dict[str, list[str]]] = {
    # 146: what one agency learns of brokers goes to every other.
    "information_provision": {
        kind: [k for k in AGENCY_KINDS if k != kind] for kind in AGENCY_KINDS
    },
    # 204, 210: suspected violations go to whoever supervises or enforces.
    "violation_notification": {
        "immigration": ["labour", "otit", "police"],
        "labour": ["immigration", "otit", "police"],
        "otit": ["labour", "immigration"],
        "police": ["immigration", "labour"],
        "mofa": ["immigration"],
        "mext": ["immigration"],
    },
    "investigation_request": {
        "immigration": ["police", "labour", "otit"],
        "labour": ["police", "immigration", "otit"],
        "otit": ["labour", "immigration"],
        "police": ["immigration", "mofa", "labour"],
        "mofa": ["immigration", "police"],
        "mext": ["immigration"],
    },
    # 197: the school of an arrested student, and screening findings, reach visa screening.
    "visa_screening_attention": {
        "police": ["mofa", "immigration"],
        "immigration": ["mofa"],
        "labour": ["mofa"],
        "otit": ["mofa"],
        "mext": ["mofa", "immigration"],
        "mofa": ["immigration"],
    },
    "criminal_complaint_prepared": {kind: ["police"] for kind in AGENCY_KINDS if kind != "police"},
}


@dataclass(frozen=True)
class ReferralPolicy:
    version: int
    rules: Rules

    def may_refer(self, kind: str, sender_kind: str | None, receiver_kind: str | None) -> bool:
        return receiver_kind in self.rules.get(kind, {}).get(sender_kind or "", ())

    def receiver_kinds(self, kind: str, sender_kind: str | None) -> tuple[str, ...]:
        return tuple(self.rules.get(kind, {}).get(sender_kind or "", ()))


def validate_referral_rules(rules: Any) -> dict[str, dict[str, list[str]]]:
    if not isinstance(rules, dict):
        raise Refusal(Kind.INVALID, "policy_invalid", "Referral rules must be an object")
    clean: dict[str, dict[str, list[str]]] = {}
    for referral_kind, senders in rules.items():
        if referral_kind not in REFERRAL_KINDS or not isinstance(senders, dict):
            raise Refusal(
                Kind.INVALID, "policy_invalid", f"Unknown referral kind {referral_kind!r}"
            )
        clean[referral_kind] = {}
        for sender, receivers in senders.items():
            if sender not in AGENCY_KINDS or not isinstance(receivers, list):
                raise Refusal(Kind.INVALID, "policy_invalid", f"{referral_kind}: unknown kind")
            if any(r not in AGENCY_KINDS for r in receivers):
                raise Refusal(
                    Kind.INVALID, "policy_invalid", f"{referral_kind}.{sender}: unknown kind"
                )
            clean[referral_kind][sender] = sorted(set(receivers))
    return clean


def current_referral_policy() -> ReferralPolicy:
    """The referral rules in force; none stored means nobody may refer (deny by default)."""
    row = db.session.execute(
        select(ReferralPolicyVersion.version, ReferralPolicyVersion.rules)
        .order_by(ReferralPolicyVersion.version.desc())
        .limit(1)
    ).first()
    if row is None:
        return ReferralPolicy(version=0, rules={})
    return ReferralPolicy(version=row.version, rules=json.loads(row.rules))


def set_referral_policy(*, actor: Actor, rules: Any, note: str = "") -> ReferralPolicy:
    """Store a new version of the rules; the caller audits it in the same transaction."""
    clean = validate_referral_rules(rules)
    version = current_referral_policy().version + 1
    db.session.add(
        ReferralPolicyVersion(
            version=version,
            rules=json.dumps(clean, sort_keys=True),
            created_at=utcnow(),
            created_by=actor.operator or actor.user or actor.agency_id or "unknown",
            note=note,
        )
    )
    db.session.flush()
    return ReferralPolicy(version=version, rules=clean)
