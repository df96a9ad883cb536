"""Referrals between agencies (DESIGN §10): the signed referral and its signed steps.

A referral is sent by one agency to others about records they may read, and each receiver
acknowledges it, assigns it to a person and closes it with an outcome. Every one of these
documents is signed like a record: a detached JWS over its RFC 8785 bytes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from schemas.common import (
    CrossCheckedSchema,
    ErrorCollector,
    StrictSchema,
    load_document,
    require_iff,
)
from schemas.fields import (
    LABEL_MAX,
    NAME_MAX,
    REASON_MAX,
    Checked,
    Choice,
    Count,
    Items,
    Object,
    Text,
    agency_id_field,
    date_field,
    record_id_field,
    timestamp_field,
)

REFERRAL_SCHEMA = "referral/1"
REFERRAL_STEP_SCHEMA = "referral_step/1"
# JWS "typ" of a referral's signature and of its steps' (RFC 7515 §4.1.9).
REFERRAL_SIGNATURE_TYPE = "exchange-referral+jws"

REFERRAL_KINDS = (
    "information_provision",
    "violation_notification",
    "investigation_request",
    "visa_screening_attention",
    "criminal_complaint_prepared",
)
STEPS = ("acknowledged", "assigned", "closed")
OUTCOMES = (
    "guidance_given",
    "corrective_order",
    "onsite_inspection",
    "licence_revoked",
    "complaint_filed",
    "visa_refused",
    "information_used",
    "no_action",
)
# What a receiver can open safely, and nothing that runs: documents, images, tables, text.
ATTACHMENT_MEDIA_TYPES = (
    "application/pdf",
    "image/png",
    "image/jpeg",
    "text/csv",
    "text/plain",
)
ATTACHMENT_MAX_BYTES = 2 * 1024 * 1024
ATTACHMENTS_MAX = 5
RECEIVERS_MAX = 10
RECORDS_MAX = 50
VERSION_MAX = 2**31 - 1
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
SHA256_PATTERN = "^[0-9a-f]{64}$"


def _sha256_field(description: str, **kwargs: Any) -> Checked:
    return Checked(
        description,
        check=lambda value: bool(_SHA256.match(value)),
        error="Not a lower-case hexadecimal SHA-256 digest.",
        pattern=SHA256_PATTERN,
        **kwargs,
    )


class RecordReferenceSchema(StrictSchema):
    """A record the referral is about: its id, and the version seen when there is one."""

    id = record_id_field("The record's id.", required=True)
    version = Count("The version the sender refers to.", minimum=1, maximum=VERSION_MAX)


class AttachmentSchema(StrictSchema):
    """A small file sent with the referral; its bytes are bound to it by their digest."""

    name = Text("The file's name.", max_length=LABEL_MAX, required=True)
    media_type = Choice("The file's media type.", ATTACHMENT_MEDIA_TYPES, required=True)
    size = Count("Size in bytes.", minimum=1, maximum=ATTACHMENT_MAX_BYTES, required=True)
    sha256 = _sha256_field("SHA-256 of the file's bytes.", required=True)


class ActorSchema(StrictSchema):
    """Who of the agency acted: a person by user name, or a system by name."""

    kind = Choice("A person (user) or an agency system.", ("user", "system"), required=True)
    name = Text("The user name or the system name.", max_length=LABEL_MAX, required=True)


class ReferralSchema(CrossCheckedSchema):
    """A referral as signed by its sending agency."""

    schema = Choice("The document's schema.", (REFERRAL_SCHEMA,), required=True)
    id = record_id_field("Referral id chosen by the sender.", required=True)
    sender = agency_id_field("The sending agency.", required=True)
    receivers = Items(
        agency_id_field("A receiving agency."),
        "The agencies asked to act.",
        min_items=1,
        max_items=RECEIVERS_MAX,
        unique=True,
        required=True,
    )
    records = Items(
        Object(RecordReferenceSchema, "A record."),
        "The records the referral is about; each must be one every receiver may read.",
        min_items=1,
        max_items=RECORDS_MAX,
        required=True,
    )
    kind = Choice("What kind of hand-off this is.", REFERRAL_KINDS, required=True)
    requested_action = Text(
        "What the receivers are asked to do.", max_length=REASON_MAX, multiline=True, required=True
    )
    due = date_field("The date by which the receivers are asked to report back.", required=True)
    text = Text("Free text for the receivers.", max_length=10_000, multiline=True)
    attachments = Items(
        Object(AttachmentSchema, "An attachment."),
        "Small files sent with the referral.",
        max_items=ATTACHMENTS_MAX,
    )
    sent_by = Object(ActorSchema, "Who of the sending agency sent it.", required=True)
    issued_at = timestamp_field("When the sender signed it (UTC).", required=True)

    def check(
        self, data: Mapping[str, Any], original: Mapping[str, Any], errors: ErrorCollector
    ) -> None:
        sender, receivers = data.get("sender"), data.get("receivers") or ()
        if sender is not None and sender in receivers:
            errors.add(["receivers"], "An agency does not refer to itself.")
        ids = [reference["id"] for reference in data.get("records") or ()]
        if len(set(ids)) != len(ids):
            errors.add(["records"], "Names a record twice.")
        digests = [a["sha256"] for a in data.get("attachments") or ()]
        if len(set(digests)) != len(digests):
            errors.add(["attachments"], "Holds the same file twice.")
        due, issued_at = data.get("due"), data.get("issued_at")
        if due and issued_at and due < issued_at[:10]:
            errors.add(["due"], "Must not be before issued_at.")


class ReferralStepSchema(CrossCheckedSchema):
    """A receiving agency's signed step: acknowledged, assigned or closed."""

    schema = Choice("The document's schema.", (REFERRAL_STEP_SCHEMA,), required=True)
    id = record_id_field("Step id chosen by the signer; a step is taken once.", required=True)
    referral = record_id_field("The referral's id.", required=True)
    referral_sha256 = _sha256_field(
        "SHA-256 of the referral's RFC 8785 bytes: the step is about exactly that document.",
        required=True,
    )
    agency = agency_id_field("The receiving agency taking the step.", required=True)
    step = Choice("The step taken.", STEPS, required=True)
    by = Object(ActorSchema, "Who of the agency took it.", required=True)
    assignee = Text("The person the referral is assigned to.", max_length=NAME_MAX)
    outcome = Choice("What the agency did.", OUTCOMES)
    reason = Text("Why no action was taken.", max_length=REASON_MAX, multiline=True)
    note = Text("A note for the sender.", max_length=REASON_MAX, multiline=True)
    follow_up = Items(
        Object(RecordReferenceSchema, "A record."),
        "Records the receiver published in response.",
        max_items=RECORDS_MAX,
    )
    issued_at = timestamp_field("When the step was signed (UTC).", required=True)

    def check(
        self, data: Mapping[str, Any], original: Mapping[str, Any], errors: ErrorCollector
    ) -> None:
        step = data.get("step")
        if step is None:
            return
        require_iff(original, "assignee", step == "assigned", "step is assigned", errors)
        require_iff(original, "outcome", step == "closed", "step is closed", errors)
        if step != "closed":
            for member in ("reason", "follow_up"):
                if member in original:
                    errors.add([member], "Allowed only when step is closed.")
        elif data.get("outcome") == "no_action" and "reason" not in original:
            errors.add(["reason"], "Required when the outcome is no_action.")


_REFERRAL = ReferralSchema()
_STEP = ReferralStepSchema()


def validate_referral(data: object) -> dict[str, Any]:
    """Validate a referral; return it, JSON-equal to ``data``. Raises SchemaInvalid."""
    return load_document(_REFERRAL, data)


def validate_referral_step(data: object) -> dict[str, Any]:
    """Validate a referral step; return it, JSON-equal to ``data``. Raises SchemaInvalid."""
    return load_document(_STEP, data)
