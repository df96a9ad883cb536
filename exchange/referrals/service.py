"""Sending referrals and taking their steps: every check first, then the writes.

Services add and flush, never commit; the request's one commit follows its audit entry.
Each refusal has a stable code; the caller records it in the audit entry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from exchange.agencies.models import Agency
from exchange.agencies.policy import current_policy
from exchange.agencies.service import agency_lineage
from exchange.auth.actor import Actor
from exchange.clock import parse_rfc3339
from exchange.errors import Kind, Refusal
from exchange.extensions import db
from exchange.records.disposed import DISPOSED
from exchange.records.models import Record, RecordAudience
from exchange.records.reading import readable
from exchange.records.signing import KeyCache
from exchange.referrals.models import (
    Referral,
    ReferralAttachment,
    ReferralEvent,
    ReferralReceiver,
    ReferralStep,
)
from exchange.referrals.policy import current_referral_policy
from exchange.referrals.signing import signature_digest, verify_referral_signature
from keys.jcs import canonicalize
from schemas import SchemaInvalid
from schemas.referral import validate_referral, validate_referral_step

# What each step needs the receiver's part to be in.
_STEP_FROM: Mapping[str, tuple[str, ...]] = {
    "acknowledged": ("sent",),
    "assigned": ("acknowledged", "assigned"),
    "closed": ("acknowledged", "assigned"),
}
# A file's first bytes, for the media types that have a signature of their own.
_MAGIC: Mapping[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
}


@dataclass
class ReferralContext:
    """The request a referral action belongs to, and what its audit entry will say."""

    actor: Actor
    received_at: datetime
    audit_entry_id: str
    clock_skew: timedelta
    details: dict[str, Any] = field(default_factory=dict)


def refusal(kind: Kind, code: str, title: str, detail: str, pointer: str | None = None) -> Refusal:
    errors = [{"pointer": pointer, "detail": detail}] if pointer is not None else []
    return Refusal(kind, code, title, detail, errors=errors)


def _schema_refusal(invalid: SchemaInvalid, prefix: str) -> Refusal:
    return Refusal(
        Kind.INVALID,
        "schema_invalid",
        "The document does not match its schema",
        errors=[{"pointer": prefix + e.pointer, "detail": e.detail} for e in invalid.errors],
    )


def _check_actor(actor: Actor, by: Mapping[str, str], pointer: str) -> None:
    """The signed document names who acted; it must be the caller."""
    expected = ("user", actor.user) if actor.kind == "user" else ("system", actor.system_name)
    if (by["kind"], by["name"]) != expected:
        raise refusal(
            Kind.FORBIDDEN,
            "referral_actor_mismatch",
            "Not the caller",
            f"The document must name the caller ({expected[0]} {expected[1]!r}).",
            pointer,
        )


def _check_issued_at(context: ReferralContext, issued_at: datetime, pointer: str) -> None:
    if issued_at > context.received_at + context.clock_skew:
        raise refusal(
            Kind.INVALID,
            "issued_at_invalid",
            "issued_at is in the future",
            "Later than the exchange's clock allows.",
            pointer,
        )


def _receiving_actor(agency: Agency) -> Actor:
    return Actor(
        kind="system",
        agency_id=agency.id,
        agency_kind=agency.kind,
        agency_lineage=agency_lineage(agency.id),
    )


def _check_records(
    references: Sequence[Mapping[str, Any]], readers: Sequence[Actor], pointer: str
) -> None:
    """Every record exists, and every reader may read it under the sharing policy."""
    policy = current_policy()
    ids = [reference["id"] for reference in references]
    records = {r.id: r for r in db.session.scalars(select(Record).where(Record.id.in_(ids)))}
    audiences: dict[int, list[str]] = {}
    for pk, agency_id in db.session.execute(
        select(RecordAudience.record_pk, RecordAudience.agency_id).where(
            RecordAudience.record_pk.in_([r.pk for r in records.values()])
        )
    ):
        audiences.setdefault(pk, []).append(agency_id)
    for index, reference in enumerate(references):
        record = records.get(reference["id"])
        version = reference.get("version")
        if record is None or record.status == DISPOSED or (version or 0) > record.version:
            raise refusal(
                Kind.INVALID,
                "referral_record_not_found",
                "No such record",
                f"No record {reference['id']} (version {version or 'any'}).",
                f"{pointer}/{index}",
            )
        for reader in readers:
            if not readable(reader, policy, record, audiences.get(record.pk, [])):
                raise refusal(
                    Kind.FORBIDDEN,
                    "referral_record_not_readable",
                    "A receiver may not read this record",
                    f"{reader.agency_id} may not read record {record.id} under the sharing policy.",
                    f"{pointer}/{index}",
                )


def _check_attachments(
    declared: Sequence[Mapping[str, Any]], files: Mapping[str, bytes]
) -> list[tuple[str, bytes]]:
    kept = []
    for index, attachment in enumerate(declared):
        content = files.get(attachment["sha256"])
        pointer = f"/referral/attachments/{index}"
        if content is None:
            raise refusal(
                Kind.INVALID,
                "referral_attachment_missing",
                "Attachment missing",
                f"No file with SHA-256 {attachment['sha256']} was sent.",
                pointer,
            )
        if len(content) != attachment["size"]:
            raise refusal(
                Kind.INVALID,
                "referral_attachment_mismatch",
                "Attachment size differs",
                "The file's size is not the size signed.",
                pointer,
            )
        if not _looks_like(attachment["media_type"], content):
            raise refusal(
                Kind.INVALID,
                "referral_attachment_type",
                "Attachment is not of its type",
                f"The file is not {attachment['media_type']}.",
                pointer,
            )
        kept.append((attachment["sha256"], content))
    extra = set(files) - {a["sha256"] for a in declared}
    if extra:
        raise refusal(
            Kind.INVALID,
            "referral_attachment_mismatch",
            "Attachment not in the referral",
            "A file was sent that the signed referral does not name.",
            "/attachments",
        )
    return kept


def _looks_like(media_type: str, content: bytes) -> bool:
    magic = _MAGIC.get(media_type)
    if magic is not None:
        return content.startswith(magic)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return "\x00" not in text


def attachment_digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _replayed(detail: str) -> Refusal:
    return refusal(Kind.CONFLICT, "referral_replayed", "Already received", detail, "/signature")


def _events(
    context: ReferralContext,
    referral: Referral,
    step: str,
    agencies: Sequence[str],
    step_id: str | None = None,
) -> None:
    for agency_id in dict.fromkeys(agencies):
        db.session.add(
            ReferralEvent(
                agency_id=agency_id,
                referral_pk=referral.pk,
                step=step,
                step_id=step_id,
                audit_entry_id=context.audit_entry_id,
                created_at=context.received_at,
            )
        )


def send_referral(
    *, context: ReferralContext, document: Any, signature: Any, files: Mapping[str, bytes]
) -> Referral:
    """Check and store a signed referral; each receiver's part starts as ``sent``."""
    actor = context.actor
    if isinstance(document, Mapping) and isinstance(document.get("id"), str):
        context.details["referral"] = document["id"][:36]
    try:
        referral_document = validate_referral(document)
    except SchemaInvalid as invalid:
        raise _schema_refusal(invalid, "/referral") from None
    if referral_document["sender"] != actor.agency_id:
        raise refusal(
            Kind.FORBIDDEN,
            "referral_sender_mismatch",
            "Not your agency's referral",
            f"sender must be {actor.agency_id!r}, the caller's agency.",
            "/referral/sender",
        )
    _check_actor(actor, referral_document["sent_by"], "/referral/sent_by")
    issued_at = parse_rfc3339(referral_document["issued_at"])
    _check_issued_at(context, issued_at, "/referral/issued_at")
    receivers = referral_document["receivers"]
    context.details["kind"] = referral_document["kind"]
    context.details["receivers"] = receivers
    agencies = {a.id: a for a in db.session.scalars(select(Agency).where(Agency.id.in_(receivers)))}
    rules = current_referral_policy()
    for index, receiver in enumerate(receivers):
        agency = agencies.get(receiver)
        if agency is None:
            raise refusal(
                Kind.INVALID,
                "referral_receiver_unknown",
                "No such agency",
                f"No agency {receiver!r}.",
                f"/referral/receivers/{index}",
            )
        if not rules.may_refer(referral_document["kind"], actor.agency_kind, agency.kind):
            raise refusal(
                Kind.FORBIDDEN,
                "referral_receiver_not_allowed",
                "Not allowed by the referral policy",
                f"Agencies of kind {actor.agency_kind!r} may not send "
                f"{referral_document['kind']} referrals to {agency.kind!r} agencies.",
                f"/referral/receivers/{index}",
            )
    _check_records(
        referral_document["records"],
        [actor, *(_receiving_actor(agencies[r]) for r in receivers)],
        "/referral/records",
    )
    kept = _check_attachments(referral_document.get("attachments", []), files)
    canonical = canonicalize(referral_document)
    keys = KeyCache(db.session.connection())
    checked = verify_referral_signature(
        signature=signature,
        canonical=canonical,
        agency=actor.agency_id or "",
        issued_at=issued_at,
        keys=keys,
    )
    if db.session.scalar(select(Referral.pk).where(Referral.id == referral_document["id"])):
        raise _replayed(f"Referral {referral_document['id']} was already sent.")
    if _signature_used(checked.digest):
        raise _replayed("This signature was already used.")
    referral = Referral(
        id=referral_document["id"],
        sender_id=actor.agency_id,
        kind=referral_document["kind"],
        due=date.fromisoformat(referral_document["due"]),
        issued_at=issued_at,
        received_at=context.received_at,
        canonical=canonical,
        sha256=hashlib.sha256(canonical).hexdigest(),
        signature=signature,
        signature_sha256=checked.digest,
        kid=checked.kid,
        system_id=actor.system_id,
        audit_entry_id=context.audit_entry_id,
    )
    db.session.add(referral)
    # The primary key is needed by the rows that refer to the referral.
    db.session.flush()
    for receiver in receivers:
        db.session.add(
            ReferralReceiver(
                referral_pk=referral.pk,
                agency_id=receiver,
                state="sent",
                updated_at=context.received_at,
            )
        )
    for digest, content in kept:
        db.session.add(ReferralAttachment(referral_pk=referral.pk, sha256=digest, content=content))
    _events(context, referral, "sent", [referral.sender_id, *receivers])
    db.session.flush()
    return referral


def _signature_used(digest: str) -> bool:
    return bool(
        db.session.scalar(select(Referral.pk).where(Referral.signature_sha256 == digest))
        or db.session.scalar(select(ReferralStep.id).where(ReferralStep.signature_sha256 == digest))
    )


def referral_not_found(referral_id: str) -> Refusal:
    return refusal(
        Kind.NOT_FOUND,
        "referral_not_found",
        "No such referral",
        f"No referral {referral_id[:36]!r} of yours.",
    )


def take_step(
    *,
    context: ReferralContext,
    referral_id: str,
    step: str,
    document: Any,
    signature: Any,
) -> ReferralStep:
    """Check and store a receiver's signed step, and move its part of the referral on."""
    actor = context.actor
    context.details["referral"] = referral_id[:36]
    context.details["step"] = step
    # The referral is append-only (no UPDATE, so no FOR UPDATE either); the receiver's part
    # is what a step changes, and it is locked: two steps at once take turns.
    referral = db.session.scalar(select(Referral).where(Referral.id == referral_id[:36]))
    part = (
        db.session.get(ReferralReceiver, (referral.pk, actor.agency_id), with_for_update=True)
        if referral is not None
        else None
    )
    if referral is None or (part is None and referral.sender_id != actor.agency_id):
        raise referral_not_found(referral_id)
    if part is None:
        raise refusal(
            Kind.FORBIDDEN,
            "referral_not_receiver",
            "Only a receiver takes this step",
            "Your agency sent this referral; its receivers acknowledge, assign and close it.",
        )
    try:
        step_document = validate_referral_step(document)
    except SchemaInvalid as invalid:
        raise _schema_refusal(invalid, "/step") from None
    mismatches = [
        (name, expected)
        for name, expected in (
            ("referral", referral.id),
            ("referral_sha256", referral.sha256),
            ("agency", actor.agency_id),
            ("step", step),
        )
        if step_document[name] != expected
    ]
    if mismatches:
        name, expected = mismatches[0]
        raise refusal(
            Kind.INVALID,
            "referral_step_mismatch",
            "The step is about something else",
            f"{name} must be {expected!r}.",
            f"/step/{name}",
        )
    _check_actor(actor, step_document["by"], "/step/by")
    issued_at = parse_rfc3339(step_document["issued_at"])
    _check_issued_at(context, issued_at, "/step/issued_at")
    # A step seen before is named a replay whatever state the referral is in now.
    if db.session.get(ReferralStep, step_document["id"]) is not None or (
        isinstance(signature, str) and _signature_used(signature_digest(signature))
    ):
        raise _replayed("This step was already received.")
    if part.state == "closed":
        raise refusal(
            Kind.CONFLICT,
            "referral_closed",
            "The referral is closed",
            "Your agency closed this referral; it takes no more steps.",
        )
    if part.state not in _STEP_FROM[step]:
        raise refusal(
            Kind.CONFLICT,
            "referral_step_out_of_order",
            "Not the next step",
            f"A referral that is {part.state} cannot be {step}.",
        )
    if step == "closed" and step_document.get("follow_up"):
        _check_records(step_document["follow_up"], [actor], "/step/follow_up")
    canonical = canonicalize(step_document)
    checked = verify_referral_signature(
        signature=signature,
        canonical=canonical,
        agency=actor.agency_id or "",
        issued_at=issued_at,
        keys=KeyCache(db.session.connection()),
    )
    stored = ReferralStep(
        id=step_document["id"],
        referral_pk=referral.pk,
        agency_id=actor.agency_id,
        step=step,
        canonical=canonical,
        sha256=hashlib.sha256(canonical).hexdigest(),
        signature=signature,
        signature_sha256=checked.digest,
        kid=checked.kid,
        system_id=actor.system_id,
        issued_at=issued_at,
        received_at=context.received_at,
        audit_entry_id=context.audit_entry_id,
    )
    db.session.add(stored)
    part.state = step
    part.updated_at = context.received_at
    if step == "acknowledged":
        part.acknowledged_at = issued_at
    elif step == "assigned":
        part.assignee = step_document["assignee"]
    else:
        part.outcome = step_document["outcome"]
        part.closed_at = issued_at
        context.details["outcome"] = part.outcome
    # Every party to the referral follows it: the sender and each receiver see each step.
    receivers = db.session.scalars(
        select(ReferralReceiver.agency_id)
        .where(ReferralReceiver.referral_pk == referral.pk)
        .order_by(ReferralReceiver.agency_id)
    )
    _events(context, referral, step, [referral.sender_id, *receivers], stored.id)
    db.session.flush()
    return stored
