"""What a liaison officer does on the referral pages, as signed documents: the page's
fields become the document, the agency's custodial key signs it (made the first time it is
needed), and the same checks as over the API take it."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import select

from exchange.auth.models import User
from exchange.clock import rfc3339, uuid7
from exchange.extensions import db
from exchange.referrals.models import Referral, ReferralStep
from exchange.referrals.service import ReferralContext, send_referral, take_step
from exchange.referrals.signing import agency_signer, sign_document
from schemas.referral import REFERRAL_SCHEMA, REFERRAL_STEP_SCHEMA


@dataclasses.dataclass(frozen=True)
class Upload:
    name: str
    media_type: str
    content: bytes


def _signed_context(context: ReferralContext) -> tuple[ReferralContext, Any]:
    signer = agency_signer(context.actor, context.details)
    # Attributed to the agency's custodial system, which holds the key that signs.
    actor = dataclasses.replace(
        context.actor, system_id=signer.system.id, system_name=signer.system.name
    )
    return dataclasses.replace(context, actor=actor), signer


def _issued_at(context: ReferralContext) -> str:
    return rfc3339(context.received_at.replace(microsecond=0))


def _by(context: ReferralContext) -> dict[str, str]:
    return {"kind": "user", "name": context.actor.user or ""}


def send_from_page(
    *,
    context: ReferralContext,
    receivers: Sequence[str],
    records: Sequence[str],
    kind: str,
    requested_action: str,
    due: date,
    text: str | None,
    uploads: Sequence[Upload],
) -> Referral:
    context, signer = _signed_context(context)
    document: dict[str, Any] = {
        "schema": REFERRAL_SCHEMA,
        "id": uuid7(),
        "sender": context.actor.agency_id,
        "receivers": list(receivers),
        "records": [{"id": record_id} for record_id in records],
        "kind": kind,
        "requested_action": requested_action,
        "due": due.isoformat(),
        "sent_by": _by(context),
        "issued_at": _issued_at(context),
    }
    if text:
        document["text"] = text
    files = {}
    if uploads:
        document["attachments"] = []
        for upload in uploads:
            digest = hashlib.sha256(upload.content).hexdigest()
            files[digest] = upload.content
            document["attachments"].append(
                {
                    "name": upload.name,
                    "media_type": upload.media_type,
                    "size": len(upload.content),
                    "sha256": digest,
                }
            )
    return send_referral(
        context=context,
        document=document,
        signature=sign_document(document, signer),
        files=files,
    )


def step_from_page(
    *,
    context: ReferralContext,
    referral_id: str,
    step: str,
    assignee: str | None = None,
    outcome: str | None = None,
    reason: str | None = None,
    note: str | None = None,
    follow_up: Sequence[str] = (),
) -> ReferralStep:
    referral = db.session.scalar(select(Referral).where(Referral.id == referral_id[:36]))
    context, signer = _signed_context(context)
    document: dict[str, Any] = {
        "schema": REFERRAL_STEP_SCHEMA,
        "id": uuid7(),
        "referral": referral_id[:36],
        "referral_sha256": referral.sha256 if referral is not None else "0" * 64,
        "agency": context.actor.agency_id,
        "step": step,
        "by": _by(context),
        "issued_at": _issued_at(context),
    }
    optional = {
        "assignee": assignee,
        "outcome": outcome,
        "reason": reason,
        "note": note,
        "follow_up": [{"id": record_id} for record_id in follow_up] or None,
    }
    document.update({name: value for name, value in optional.items() if value})
    return take_step(
        context=context,
        referral_id=referral_id,
        step=step,
        document=document,
        signature=sign_document(document, signer),
    )


def assignable_people(agency_id: str) -> list[User]:
    """Who of the agency a referral can be assigned to: its liaison officers."""
    users = db.session.scalars(
        select(User).where(User.agency_id == agency_id).order_by(User.display_name)
    )
    return [user for user in users if "liaison" in user.role_set]
