"""Demo referrals: the hand-offs of measures 197, 204 and 210 between the demo agencies,
some closed, some open, some overdue, each step signed by the agency's gateway key and
taken through the same service as the API, at the time it would have happened."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from exchange.agencies.service import get_system, system_actor
from exchange.clock import rfc3339, utcnow, uuid7
from exchange.extensions import db
from exchange.referrals.reading import today_in_japan
from exchange.referrals.service import ReferralContext, send_referral, take_step
from exchange.trail.entries import append_entry
from keys.jcs import canonicalize
from keys.jwk import PrivateSigningKey, public_jwk, thumbprint
from keys.jws import sign_detached
from schemas.referral import REFERRAL_SCHEMA, REFERRAL_SIGNATURE_TYPE, REFERRAL_STEP_SCHEMA

SYSTEM = "gateway"
_ACTIONS = {
    "acknowledged": "referral.acknowledge",
    "assigned": "referral.assign",
    "closed": "referral.close",
}


@dataclass(frozen=True)
class DemoStep:
    receiver: str
    step: str
    days_after: int
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DemoReferral:
    sender: str
    receivers: tuple[str, ...]
    record_type: str
    kind: str
    requested_action: str
    days_ago: int
    due_in_days: int
    steps: tuple[DemoStep, ...] = ()
    text: str | None = None


DEMO_REFERRALS = (
    # 204: unpaid wages found by immigration at an implementing organisation.
    DemoReferral(
        "isa",
        ("tokyo-lb", "otit"),
        "illegal_employment",
        "violation_notification",
        "実習実施者における技能実習生への賃金不払いの疑い。監督指導と是正状況の報告を依頼します。",
        days_ago=75,
        due_in_days=30,
        steps=(
            DemoStep("tokyo-lb", "acknowledged", 1),
            DemoStep("tokyo-lb", "assigned", 2, {"assignee": "労働基準監督官 佐藤"}),
            DemoStep(
                "tokyo-lb",
                "closed",
                21,
                {
                    "outcome": "corrective_order",
                    "note": "是正勧告書を交付。未払い賃金の遡及支払いを確認。",
                },
            ),
            DemoStep("otit", "acknowledged", 1),
            DemoStep(
                "otit",
                "closed",
                28,
                {
                    "outcome": "onsite_inspection",
                    "note": "監理団体及び実習実施者に実地検査を実施。",
                },
            ),
        ),
    ),
    # 197: the school of an arrested student, for the investigation and for visa screening.
    DemoReferral(
        "npa",
        ("isa", "mofa"),
        "school",
        "visa_screening_attention",
        "逮捕された留学生の在籍校。在留審査及び査証審査での留意を依頼します。",
        days_ago=20,
        due_in_days=40,
        steps=(
            DemoStep("mofa", "acknowledged", 1),
            DemoStep("mofa", "closed", 12, {"outcome": "visa_refused"}),
            DemoStep("isa", "acknowledged", 2),
            DemoStep("isa", "assigned", 3, {"assignee": "入国審査官 鈴木"}),
        ),
    ),
    # 197: what visa screening found, answered to immigration; acknowledged, now overdue.
    DemoReferral(
        "mofa",
        ("isa",),
        "school",
        "information_provision",
        "査証審査で不適合が多数判明した日本語教育機関の情報提供。在留審査での活用を願います。",
        days_ago=50,
        due_in_days=30,
        steps=(DemoStep("isa", "acknowledged", 3),),
    ),
    # 210: facilitation of illegal employment, a complaint prepared for the police.
    DemoReferral(
        "isa",
        ("ibaraki-pp",),
        "illegal_employment",
        "criminal_complaint_prepared",
        "不法就労助長（入管法73条の2）の告発準備が整いました。捜査上の対応を依頼します。",
        days_ago=40,
        due_in_days=45,
        steps=(
            DemoStep("ibaraki-pp", "acknowledged", 1),
            DemoStep("ibaraki-pp", "assigned", 2, {"assignee": "生活安全課 田中"}),
            DemoStep("ibaraki-pp", "closed", 25, {"outcome": "complaint_filed"}),
        ),
    ),
    # 204: OTIT refers a supervising organisation to a labour bureau; not yet acknowledged.
    DemoReferral(
        "otit",
        ("aichi-lb",),
        "broker",
        "violation_notification",
        "監理団体による実習生の旅券保管及び高額な手数料徴収の疑い。労働関係法令上の確認を依頼します。",
        days_ago=35,
        due_in_days=21,
    ),
    # 210: a labour bureau asks immigration to look into the workers' residence status.
    DemoReferral(
        "tokyo-lb",
        ("isa",),
        "illegal_employment",
        "investigation_request",
        "臨検で判明した資格外活動の疑い。在留資格の確認と必要な対応を依頼します。",
        days_ago=5,
        due_in_days=30,
        steps=(DemoStep("isa", "acknowledged", 1),),
    ),
)


def _actor(agency_id: str) -> Any:
    system = get_system(agency_id, SYSTEM)
    agency = system.agency
    return system_actor(
        agency_id=agency.id,
        agency_kind=agency.kind,
        agency_parent=agency.parent_id,
        system_id=system.id,
        system_name=system.name,
        roles=system.roles,
    )


def _sign(document: dict[str, Any], key: PrivateSigningKey) -> str:
    kid = thumbprint(public_jwk(key))
    return sign_detached(canonicalize(document), key=key, kid=kid, typ=REFERRAL_SIGNATURE_TYPE)


def _audited(action: str, actor: Any, at: datetime, work: Any) -> Any:
    context = ReferralContext(
        actor=actor, received_at=at, audit_entry_id=uuid7(), clock_skew=timedelta(minutes=5)
    )
    result = work(context)
    append_entry(
        entry_id=context.audit_entry_id,
        recorded_at=at,
        actor=actor,
        action=action,
        status=201,
        details={**context.details, "via": "demo"},
    )
    db.session.commit()
    return result


def seed_referrals(
    signing_keys: Mapping[str, PrivateSigningKey], envelopes: Sequence[Mapping[str, Any]]
) -> int:
    """The demo referrals whose agencies were just loaded, about records they may read."""
    now = utcnow().replace(microsecond=0)
    open_records = {
        record_type: [
            e["id"]
            for e in envelopes
            if e["type"] == record_type and e["handling"]["audience"] is None
        ]
        for record_type in ("broker", "school", "illegal_employment")
    }
    seeded = 0
    for index, demo in enumerate(DEMO_REFERRALS):
        agencies = (demo.sender, *demo.receivers)
        candidates = open_records[demo.record_type]
        if not candidates or any(a not in signing_keys for a in agencies):
            continue
        sent_at = now - timedelta(days=demo.days_ago)
        document: dict[str, Any] = {
            "schema": REFERRAL_SCHEMA,
            "id": str(uuid.UUID(int=0x0193_0000_0000_7000_8000_0000_0000_0000 + index)),
            "sender": demo.sender,
            "receivers": list(demo.receivers),
            "records": [{"id": candidates[index % len(candidates)]}],
            "kind": demo.kind,
            "requested_action": demo.requested_action,
            "due": (today_in_japan(sent_at) + timedelta(days=demo.due_in_days)).isoformat(),
            "sent_by": {"kind": "system", "name": SYSTEM},
            "issued_at": rfc3339(sent_at),
        }
        referral = _audited(
            "referral.send",
            _actor(demo.sender),
            sent_at,
            lambda context, document=document, sender=demo.sender: send_referral(
                context=context,
                document=document,
                signature=_sign(document, signing_keys[sender]),
                files={},
            ),
        )
        for step in sorted(demo.steps, key=lambda s: s.days_after):
            at = sent_at + timedelta(days=step.days_after, minutes=seeded % 50)
            step_document = {
                "schema": REFERRAL_STEP_SCHEMA,
                "id": uuid7(),
                "referral": referral.id,
                "referral_sha256": referral.sha256,
                "agency": step.receiver,
                "step": step.step,
                "by": {"kind": "system", "name": SYSTEM},
                "issued_at": rfc3339(at),
                **step.fields,
            }
            _audited(
                _ACTIONS[step.step],
                _actor(step.receiver),
                at,
                lambda context, d=step_document, s=step: take_step(
                    context=context,
                    referral_id=d["referral"],
                    step=s.step,
                    document=d,
                    signature=_sign(d, signing_keys[s.receiver]),
                ),
            )
        seeded += 1
    return seeded
