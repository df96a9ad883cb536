"""notice/1: a notice to the government of a sending country about its brokers (measure 147),
and the signed steps of its life (submission, approval, rejection, dispatch, answer).

A notice quotes broker records by id and version, and only the fields of ``FACT_FIELDS``:
who the broker is, what it is alleged to have done and what was done about it. The
narrative and the address stay out, so that no trainee's personal data can travel abroad.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from marshmallow import Schema
from marshmallow.fields import Field

from schemas.broker import BrokerPayloadSchema
from schemas.common import (
    CrossCheckedSchema,
    ErrorCollector,
    StrictSchema,
    load_document,
    require_iff,
)
from schemas.errors import FieldError
from schemas.fields import (
    LABEL_MAX,
    NARRATIVE_MAX,
    REASON_MAX,
    Checked,
    Choice,
    Count,
    Items,
    Object,
    Text,
    agency_id_field,
    country_field,
    date_field,
    record_id_field,
    timestamp_field,
)

NOTICE_SCHEMA = "notice/1"
STEP_SCHEMA = "notice-step/1"
# JWS "typ" of a notice version's signature and of each step's (RFC 7515 §4.1.9).
NOTICE_SIGNATURE_TYPE = "exchange-notice+jws"
NOTICE_STEP_SIGNATURE_TYPE = "exchange-notice-step+jws"
# The broker fields a notice may quote; everything else of a record stays at home.
FACT_FIELDS = (
    "name",
    "name_original",
    "name_latin",
    "aliases",
    "category",
    "country",
    "corporate_number",
    "licences",
    "programmes",
    "allegations",
    "period",
    "measures",
)
STEPS = ("submission", "approval", "rejection", "dispatch", "answer")
ACTIONS_REPORTED = (
    "investigation_opened",
    "licence_suspended",
    "licence_revoked",
    "guidance_given",
    "prosecution",
    "no_action",
    "other",
)
USERNAME_MAX = 64
_SHA256_PATTERN = "^[0-9a-f]{64}$"
MAX_BROKERS = 20


def _is_sha256(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def sha256_field(description: str, **kwargs: Any) -> Checked:
    return Checked(
        description,
        check=_is_sha256,
        error="Not a SHA-256 digest in lower-case hex.",
        pattern=_SHA256_PATTERN,
        **kwargs,
    )


def username_field(description: str, **kwargs: Any) -> Text:
    return Text(description, max_length=USERNAME_MAX, **kwargs)


def _quoted_field(name: str) -> Field[Any]:
    """The broker/1 field ``name``, validated as there; optional in a notice but the name."""
    field = copy.deepcopy(BrokerPayloadSchema._declared_fields[name])
    field.required = name == "name"
    return field


FactsSchema: type[Schema] = StrictSchema.from_dict(
    {name: _quoted_field(name) for name in FACT_FIELDS}, name="NoticeFactsSchema"
)


class NoticedBrokerSchema(StrictSchema):
    """A broker record the notice is about, the version quoted, and the fields quoted."""

    id = record_id_field("The broker record's id.", required=True)
    version = Count("The version quoted.", minimum=1, maximum=2**31 - 1, required=True)
    facts = Object(
        FactsSchema,
        "Fields quoted from that version, unchanged; only fields of the allowed list.",
        required=True,
    )


class NoticeRequestSchema(StrictSchema):
    """What is asked of the government (申入れ), in both languages."""

    ja = Text("The request in Japanese.", max_length=NARRATIVE_MAX, multiline=True, required=True)
    en = Text("The request in English.", max_length=NARRATIVE_MAX, multiline=True, required=True)


class NoticeSchema(CrossCheckedSchema):
    """A version of a notice, as signed by the drafting agency."""

    id = record_id_field("The notice's id, chosen by the drafting agency.", required=True)
    schema = Choice("Always notice/1.", (NOTICE_SCHEMA,), required=True)
    version = Count(
        "1 is the first draft; each edit is the next number.",
        minimum=1,
        maximum=2**31 - 1,
        required=True,
    )
    agency = agency_id_field("The drafting agency.", required=True)
    country = country_field("The sending country whose government is notified.", required=True)
    drafted_by = username_field("The user name of the person who drafted it.", required=True)
    brokers = Items(
        Object(NoticedBrokerSchema, "A broker."),
        "The brokers of that country the notice is about.",
        min_items=1,
        max_items=MAX_BROKERS,
        required=True,
    )
    request = Object(NoticeRequestSchema, "The request made.", required=True)
    issued_at = timestamp_field("When this version was signed (UTC).", required=True)

    def check(
        self, data: Mapping[str, Any], original: Mapping[str, Any], errors: ErrorCollector
    ) -> None:
        # Read from what was submitted: a duplicate is an error even beside other errors.
        brokers = original.get("brokers")
        seen: set[str] = set()
        for index, broker in enumerate(brokers if isinstance(brokers, list) else ()):
            broker_id = broker.get("id") if isinstance(broker, Mapping) else None
            if not isinstance(broker_id, str):
                continue
            if broker_id in seen:
                errors.add(["brokers", index, "id"], "Each broker once.")
            seen.add(broker_id)


class NoticeAnswerSchema(StrictSchema):
    """The government's answer, as received through the diplomatic channel."""

    received_on = date_field("When the answer was received.", required=True)
    summary = Text("What the answer says.", max_length=REASON_MAX, multiline=True, required=True)
    action_reported = Choice("What the government reports it did.", ACTIONS_REPORTED, required=True)
    reference = Text("The government's reference.", max_length=LABEL_MAX)


class NoticeStepSchema(CrossCheckedSchema):
    """A signed step of a notice's life, chained to the step before it."""

    schema = Choice("Always notice-step/1.", (STEP_SCHEMA,), required=True)
    notice = record_id_field("The notice's id.", required=True)
    notice_version = Count("The version the step is about.", minimum=1, required=True)
    notice_sha256 = sha256_field("SHA-256 of that version's RFC 8785 bytes.", required=True)
    previous = sha256_field(
        "SHA-256 of the RFC 8785 bytes of the notice's latest step (of the notice version "
        "itself for its first step): a step signed for another moment cannot be replayed.",
        required=True,
    )
    step = Choice("What this step does.", STEPS, required=True)
    agency = agency_id_field("The agency of the person acting.", required=True)
    by = username_field("The user name of the person acting.", required=True)
    at = timestamp_field("When the step was signed (UTC).", required=True)
    reason = Text("Why the draft is rejected.", max_length=REASON_MAX, multiline=True)
    reference = Text("The diplomatic channel's reference (note verbale).", max_length=LABEL_MAX)
    answer = Object(NoticeAnswerSchema, "The government's answer.")

    def check(
        self, data: Mapping[str, Any], original: Mapping[str, Any], errors: ErrorCollector
    ) -> None:
        step = data.get("step")
        if step is None:
            return
        require_iff(original, "reason", step == "rejection", "step is rejection", errors)
        require_iff(original, "answer", step == "answer", "step is answer", errors)
        if "reference" in original and step != "dispatch":
            errors.add(["reference"], "Allowed only when step is dispatch.")


_NOTICE = NoticeSchema()
_STEP = NoticeStepSchema()


def fields_outside_whitelist(document: object) -> list[FieldError]:
    """Quoted fields a notice may not carry, each at its pointer."""
    if not isinstance(document, Mapping) or not isinstance(document.get("brokers"), list):
        return []
    found: list[FieldError] = []
    for index, broker in enumerate(document["brokers"]):
        facts = broker.get("facts") if isinstance(broker, Mapping) else None
        if isinstance(facts, Mapping):
            found.extend(
                FieldError(f"/brokers/{index}/facts/{name}", "Not a field a notice may quote.")
                for name in facts
                if name not in FACT_FIELDS
            )
    return found


def validate_notice(data: object) -> dict[str, Any]:
    """A notice version, valid under notice/1; raises SchemaInvalid with every error."""
    return load_document(_NOTICE, data)


def validate_step(data: object) -> dict[str, Any]:
    """A step document, valid under notice-step/1; raises SchemaInvalid with every error."""
    return load_document(_STEP, data)
