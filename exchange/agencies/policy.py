"""The sharing policy (DESIGN §5): deny by default, data rather than code, versioned."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, SessionTransaction

from exchange.agencies.models import AGENCY_KINDS, PolicyVersion
from exchange.auth.actor import Actor
from exchange.clock import utcnow
from exchange.errors import Kind, Refusal
from exchange.extensions import db
from schemas import RECORD_TYPES

PURPOSES = (
    "investigation",
    "visa_screening",
    "residence_screening",
    "administrative_disposition",
    "labour_inspection",
    "licensing",
    "statistics",
    "audit",
)

DEFAULT_RULES: dict[str, dict[str, list[str]]] = {
    "broker": {"publish": list(AGENCY_KINDS), "read": list(AGENCY_KINDS)},
    "school": {"publish": ["police", "mofa"], "read": ["immigration", "mofa", "police", "mext"]},
    "illegal_employment": {
        "publish": ["immigration", "police", "labour"],
        "read": ["immigration", "police", "labour", "otit"],
    },
}


@dataclass(frozen=True)
class Policy:
    version: int
    rules: Mapping[str, Mapping[str, Sequence[str]]]

    def may_publish(self, agency_kind: str | None, record_type: str) -> bool:
        return agency_kind in self.rules.get(record_type, {}).get("publish", ())

    def may_read(self, agency_kind: str | None, record_type: str) -> bool:
        return agency_kind in self.rules.get(record_type, {}).get("read", ())

    def readable_types(self, agency_kind: str | None) -> list[str]:
        return [t for t, rule in self.rules.items() if agency_kind in rule.get("read", ())]


_cache: dict[tuple[int, str], Policy] = {}
_CURRENT = (
    select(PolicyVersion.__table__.c.version, PolicyVersion.__table__.c.rules)
    .order_by(PolicyVersion.__table__.c.version.desc())
    .limit(1)
)


def policy_from_row(version: int | None, rules: str | None) -> Policy:
    if version is None or rules is None:
        # No policy at all means nobody may do anything: deny by default.
        return Policy(version=0, rules={})
    # Keyed by the rules too: one process may serve more than one database (tests do).
    policy = _cache.get((version, rules))
    if policy is None:
        policy = Policy(version=version, rules=json.loads(rules))
        _cache[version, rules] = policy
    return policy


# A unit of work applies one policy throughout: the one in force when it first asked.
_SESSION_POLICY = "exchange.sharing_policy"


@event.listens_for(Session, "after_transaction_end")
def _forget_policy(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_SESSION_POLICY, None)


def current_policy() -> Policy:
    """The policy in force, read once per unit of work (the session's transaction)."""
    info = db.session.info
    policy: Policy | None = info.get(_SESSION_POLICY)
    if policy is None:
        policy = info[_SESSION_POLICY] = policy_in(db.session.connection())
    return policy


def policy_in(connection: Connection) -> Policy:
    """The policy in force as ``connection``'s transaction sees it."""
    row = connection.execute(_CURRENT).first()
    return policy_from_row(*row) if row is not None else policy_from_row(None, None)


def validate_rules(rules: Any) -> dict[str, dict[str, list[str]]]:
    if not isinstance(rules, dict):
        raise Refusal(Kind.INVALID, "policy_invalid", "Policy rules must be an object")
    clean: dict[str, dict[str, list[str]]] = {}
    for record_type, rule in rules.items():
        if record_type not in RECORD_TYPES or not isinstance(rule, dict):
            raise Refusal(Kind.INVALID, "policy_invalid", f"Unknown record type {record_type!r}")
        clean[record_type] = {}
        for verb in ("publish", "read"):
            kinds = rule.get(verb, [])
            if not isinstance(kinds, list) or any(k not in AGENCY_KINDS for k in kinds):
                raise Refusal(
                    Kind.INVALID, "policy_invalid", f"{record_type}.{verb}: unknown agency kind"
                )
            clean[record_type][verb] = sorted(set(kinds))
    return clean


def set_policy(*, actor: Actor, rules: Any, note: str = "") -> Policy:
    """Store a new policy version; the caller audits it in the same transaction."""
    clean = validate_rules(rules)
    current = current_policy()
    version = current.version + 1
    db.session.add(
        PolicyVersion(
            version=version,
            rules=json.dumps(clean, sort_keys=True),
            created_at=utcnow(),
            created_by=actor.operator or actor.user or actor.agency_id or "unknown",
            note=note,
        )
    )
    db.session.flush()
    policy = Policy(version=version, rules=clean)
    db.session.info[_SESSION_POLICY] = policy
    return policy


def ensure_default_policy(*, actor: Actor) -> Policy:
    policy = current_policy()
    if policy.version == 0:
        policy = set_policy(actor=actor, rules=DEFAULT_RULES, note="default policy")
    return policy
