"""Legal holds: one administrator asks, a second approves, either may lift; all audited.

A hold keeps a record past its retention date, so placing one takes two people: no single
administrator can keep personal data longer than the law allows. Lifting takes one, with
a reason: it returns the record to the course its retention date already set.
"""

from __future__ import annotations

from sqlalchemy import select

from exchange.auth.actor import Actor
from exchange.clock import utcnow
from exchange.errors import Kind, Refusal
from exchange.extensions import db
from exchange.records.disposed import DISPOSED, disposed_refusal
from exchange.records.models import Record
from exchange.retention.models import LegalHold

MAX_REASON = 2000


def administrator(actor: Actor) -> str:
    """The person behind an administrator's action, as holds name them."""
    if "admin" not in actor.roles or actor.kind not in ("user", "operator"):
        raise Refusal(
            Kind.FORBIDDEN, "admin_required", "Administrators only", "Only an administrator may."
        )
    return f"{actor.kind}:{actor.user or actor.operator}"


def _reason(reason: str, field: str = "reason") -> str:
    text = reason.strip()
    if not text or len(text) > MAX_REASON:
        raise Refusal(
            Kind.INVALID,
            "reason_required",
            "A reason is required",
            errors=[
                {"field": field, "detail": f"Give a reason (at most {MAX_REASON} characters)."}
            ],
        )
    return text


def _record(record_id: str) -> Record:
    record: Record | None = db.session.scalar(select(Record).where(Record.id == record_id))
    if record is None:
        raise Refusal(
            Kind.NOT_FOUND, "record_not_found", "No such record", f"No record {record_id!r}."
        )
    return record


def _hold(hold_id: int) -> LegalHold:
    hold = db.session.get(LegalHold, hold_id)
    if hold is None:
        raise Refusal(Kind.NOT_FOUND, "hold_not_found", "No such hold", f"No hold {hold_id}.")
    return hold


def open_hold(record_pk: int) -> LegalHold | None:
    """The record's hold that is asked for or in force, if any."""
    return db.session.scalar(
        select(LegalHold)
        .where(LegalHold.record_pk == record_pk, LegalHold.lifted_at.is_(None))
        .order_by(LegalHold.id.desc())
        .limit(1)
    )


def request_hold(*, actor: Actor, record_id: str, reason: str) -> LegalHold:
    requester = administrator(actor)
    text = _reason(reason)
    record = _record(record_id)
    if record.status == DISPOSED:
        raise disposed_refusal(record_id)
    if open_hold(record.pk) is not None:
        raise Refusal(
            Kind.CONFLICT,
            "hold_exists",
            "The record already has a hold",
            "A hold on this record is awaiting approval or in force.",
        )
    hold = LegalHold(
        record_pk=record.pk, reason=text, requested_by=requester, requested_at=utcnow()
    )
    db.session.add(hold)
    db.session.flush()  # the hold's id, for the audit entry and the approver
    return hold


def approve_hold(*, actor: Actor, hold_id: int) -> LegalHold:
    approver = administrator(actor)
    hold = _hold(hold_id)
    if hold.approved_at is not None or hold.lifted_at is not None:
        raise Refusal(
            Kind.CONFLICT,
            "hold_not_pending",
            "The hold is not awaiting approval",
            "It was approved or lifted already.",
        )
    if approver == hold.requested_by:
        raise Refusal(
            Kind.FORBIDDEN,
            "four_eyes_required",
            "A second administrator must approve",
            "The administrator who asked for a hold cannot approve it.",
        )
    hold.approved_by, hold.approved_at = approver, utcnow()
    return hold


def lift_hold(*, actor: Actor, hold_id: int, reason: str) -> LegalHold:
    lifter = administrator(actor)
    text = _reason(reason)
    hold = _hold(hold_id)
    if hold.lifted_at is not None:
        raise Refusal(
            Kind.CONFLICT, "hold_lifted", "The hold was lifted already", "Nothing to lift."
        )
    hold.lifted_by, hold.lifted_at, hold.lift_reason = lifter, utcnow(), text
    return hold


def record_id_of(hold: LegalHold) -> str:
    return str(db.session.scalar(select(Record.id).where(Record.pk == hold.record_pk)))


def list_holds(*, actor: Actor, include_lifted: bool = False) -> list[tuple[LegalHold, str]]:
    administrator(actor)
    query = select(LegalHold, Record.id).join(Record, Record.pk == LegalHold.record_pk)
    if not include_lifted:
        query = query.where(LegalHold.lifted_at.is_(None))
    return [
        (hold, record_id)
        for hold, record_id in db.session.execute(query.order_by(LegalHold.id.desc()))
    ]
