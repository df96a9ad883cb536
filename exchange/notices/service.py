"""The life of a notice: signed drafts, then signed steps, each checked before it is stored.

Whoever acts (a person in the web UI, signing with the agency's custodial key, or an
agency system over the API, signing with its own key), the same checks run here: the
document's schema, its signature by the acting agency's key valid at the time it names,
the person it names, the state of the notice, and the chain of steps. Four eyes: an
approval or rejection is refused from anyone who drafted a version or submitted it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from exchange.clock import parse_rfc3339
from exchange.errors import Kind, Refusal
from exchange.extensions import db
from exchange.notices.checks import (
    NoticeContext,
    Signed,
    acting_agency,
    checked_notice,
    checked_signature,
    invalid,
    named_person,
    schema_refusal,
    sha256_hex,
    verify,
)
from exchange.notices.models import EDITABLE_STATES, SENT_STATES, Notice, NoticeStep, NoticeVersion
from exchange.notices.reading import (
    MOFA_KIND,
    current_version,
    get_notice,
    notice_steps,
    notice_versions,
)
from keys.jcs import canonicalize
from schemas import SchemaInvalid
from schemas.notice import NOTICE_STEP_SIGNATURE_TYPE, validate_step

__all__ = ["NoticeContext", "Signed", "draft_notice", "edit_notice", "locked_refusal", "take_step"]

# Who may take each step, by role of the person named in it.
STEP_ROLES = {
    "submission": frozenset({"liaison"}),
    "approval": frozenset({"approver"}),
    "rejection": frozenset({"approver"}),
    "dispatch": frozenset({"liaison", "approver"}),
    "answer": frozenset({"liaison", "approver"}),
}
# The state a notice must be in for each step, and the state it moves to.
STEP_FROM = {
    "submission": EDITABLE_STATES,
    "approval": frozenset({"pending"}),
    "rejection": frozenset({"pending"}),
    "dispatch": frozenset({"approved"}),
    "answer": SENT_STATES,
}
STEP_TO = {
    "submission": "pending",
    "approval": "approved",
    "rejection": "rejected",
    "dispatch": "dispatched",
    "answer": "answered",
}


def _store_version(
    context: NoticeContext, notice: Notice, document: dict[str, Any], canonical: bytes, sig: str
) -> NoticeVersion:
    digest = sha256_hex(canonical)
    version = NoticeVersion(
        notice_id=notice.id,
        version=document["version"],
        canonical=canonical,
        sha256=digest,
        signature=sig,
        kid=context.details["kid"],
        drafted_by=document["drafted_by"],
        issued_at=parse_rfc3339(document["issued_at"]),
        received_at=context.received_at,
        system_id=_system_id(context),
        audit_entry_id=context.audit_entry_id,
    )
    db.session.add(version)
    notice.version = document["version"]
    notice.head_sha256 = digest
    notice.updated_at = context.received_at
    context.details.update(notice=notice.id, version=notice.version, sha256=digest)
    return version


def _system_id(context: NoticeContext) -> int:
    if context.actor.system_id is None:
        raise Refusal(Kind.CONFLICT, "notice_system_missing", "No signing system")
    return context.actor.system_id


def draft_notice(*, context: NoticeContext, submitted: Signed) -> Notice:
    """Store version 1 of a new notice."""
    document, canonical = checked_notice(context, submitted)
    if document["version"] != 1:
        raise invalid(
            "version_conflict", "Not a new notice", "/notice/version", "A new notice is version 1."
        )
    if db.session.get(Notice, document["id"]) is not None:
        raise Refusal(Kind.CONFLICT, "notice_exists", "Notice exists", "Edit it instead.")
    notice = Notice(
        id=document["id"],
        agency_id=document["agency"],
        country=document["country"],
        state="draft",
        version=1,
        head_sha256="",
        created_at=context.received_at,
        updated_at=context.received_at,
    )
    db.session.add(notice)
    # The version row refers to the notice row.
    db.session.flush()
    _store_version(context, notice, document, canonical, submitted.signature)
    db.session.flush()
    return notice


def locked_refusal(notice: Notice) -> Refusal:
    """Why a notice that is not a draft cannot be changed."""
    if notice.state in SENT_STATES:
        return Refusal(
            Kind.CONFLICT,
            "notice_dispatched",
            "Notice dispatched",
            "A dispatched notice is never changed; its answer is recorded against it.",
        )
    return Refusal(
        Kind.CONFLICT,
        "notice_not_editable",
        "Notice not editable",
        f"The notice is {notice.state}; only a draft or a rejected notice is edited.",
    )


def edit_notice(*, context: NoticeContext, notice_id: str, submitted: Signed) -> Notice:
    """Store the next version of a draft (or of a rejected notice)."""
    notice = get_notice(actor=context.actor, notice_id=notice_id, for_update=True)
    context.details["notice"] = notice.id
    if notice.state not in EDITABLE_STATES:
        raise locked_refusal(notice)
    document, canonical = checked_notice(context, submitted)
    if document["id"] != notice.id:
        raise invalid("notice_mismatch", "Another notice", "/notice/id", "Not this notice.")
    if document["version"] != notice.version + 1:
        raise Refusal(
            Kind.CONFLICT,
            "version_conflict",
            "Version conflict",
            f"The next version is {notice.version + 1}.",
            errors=[{"pointer": "/notice/version", "detail": "Not the next version."}],
        )
    if document["country"] != notice.country:
        raise invalid(
            "notice_country_changed", "Country changed", "/notice/country", "Draft a new notice."
        )
    _store_version(context, notice, document, canonical, submitted.signature)
    notice.state = "draft"
    db.session.flush()
    return notice


def _four_eyes(notice: Notice, username: str) -> None:
    """An approver never approves or rejects what they drafted or submitted."""
    drafters = {v.drafted_by for v in notice_versions(notice.id)}
    submitters = {
        s.by_user
        for s in notice_steps(notice.id)
        if s.step == "submission" and s.notice_version == notice.version
    }
    if username in drafters | submitters:
        raise Refusal(
            Kind.FORBIDDEN,
            "notice_self_approval",
            "Four eyes",
            "A notice is approved or rejected by a second person, never by who drafted or "
            "submitted it.",
            errors=[{"pointer": "/step/by", "detail": "Drafted or submitted the notice."}],
        )


def _step_agency(context: NoticeContext, notice: Notice, step: str, agency: str) -> None:
    if step == "dispatch" or (step == "answer" and context.actor.agency_kind == MOFA_KIND):
        if context.actor.agency_kind != MOFA_KIND:
            raise Refusal(
                Kind.FORBIDDEN,
                "notice_dispatch_mofa_only",
                "Dispatched by MOFA only",
                "The Ministry of Foreign Affairs, the diplomatic channel, countersigns and "
                "dispatches a notice.",
            )
        return
    if agency != notice.agency_id:
        raise Refusal(
            Kind.FORBIDDEN,
            "notice_agency_mismatch",
            "Not your notice",
            "Only the drafting agency takes this step.",
        )


def take_step(*, context: NoticeContext, notice_id: str, step: str, submitted: Signed) -> Notice:
    """Check a signed step against the notice as it stands, store it, and move the notice on."""
    notice = get_notice(actor=context.actor, notice_id=notice_id, for_update=True)
    context.details.update(notice=notice.id, step=step)
    try:
        document = validate_step(submitted.document)
    except SchemaInvalid as error:
        raise schema_refusal("step", error) from None
    signature = checked_signature(submitted)
    if document["step"] != step:
        raise invalid("notice_step_mismatch", "Another step", "/step/step", f"Must be {step}.")
    if document["notice"] != notice.id:
        raise invalid("notice_mismatch", "Another notice", "/step/notice", "Not this notice.")
    canonical = canonicalize(submitted.document)
    digest = sha256_hex(canonical)
    if db.session.scalar(select(NoticeStep.seq).where(NoticeStep.sha256 == digest)) is not None:
        raise Refusal(
            Kind.CONFLICT,
            "notice_step_replayed",
            "Step already taken",
            "This signed step was already recorded; a step is taken once.",
        )
    acting_agency(context, document["agency"], "/step/agency")
    context.details["kid"] = verify(
        context=context,
        signature=signature,
        canonical=canonical,
        agency=document["agency"],
        at=document["at"],
        typ=NOTICE_STEP_SIGNATURE_TYPE,
    )
    _step_agency(context, notice, step, document["agency"])
    named_person(
        context,
        username=document["by"],
        agency=document["agency"],
        roles=STEP_ROLES[step],
        pointer="/step/by",
    )
    if step in ("approval", "rejection"):
        _four_eyes(notice, document["by"])
    if notice.state not in STEP_FROM[step]:
        if step == "submission" and notice.state in SENT_STATES:
            raise locked_refusal(notice)
        raise Refusal(
            Kind.CONFLICT,
            "notice_state_invalid",
            "Not at this stage",
            f"The notice is {notice.state}; {step} is not its next step.",
        )
    version = current_version(notice)
    if document["notice_version"] != notice.version or document["notice_sha256"] != version.sha256:
        raise Refusal(
            Kind.CONFLICT,
            "notice_version_stale",
            "Not the current version",
            f"The step must be about version {notice.version} ({version.sha256}).",
            errors=[{"pointer": "/step/notice_sha256", "detail": "Not the current version."}],
        )
    if document["previous"] != notice.head_sha256:
        raise Refusal(
            Kind.CONFLICT,
            "notice_step_stale",
            "Signed for another moment",
            "The step does not follow the notice's latest step; sign it again.",
            errors=[{"pointer": "/step/previous", "detail": "Not the latest step."}],
        )
    steps = notice_steps(notice.id)
    db.session.add(
        NoticeStep(
            notice_id=notice.id,
            seq=len(steps) + 1,
            step=step,
            notice_version=notice.version,
            canonical=canonical,
            sha256=digest,
            signature=signature,
            kid=context.details["kid"],
            agency_id=document["agency"],
            by_user=document["by"],
            at=parse_rfc3339(document["at"]),
            received_at=context.received_at,
            system_id=_system_id(context),
            audit_entry_id=context.audit_entry_id,
        )
    )
    notice.state = STEP_TO[step]
    notice.head_sha256 = digest
    notice.updated_at = context.received_at
    if step == "dispatch":
        notice.dispatched_at = context.received_at
    context.details.update(version=notice.version, sha256=digest, state=notice.state)
    db.session.flush()
    return notice
