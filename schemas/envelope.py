"""The signed record's envelope (DESIGN §3) and the one entry point that validates a record.

The envelope says who published what, when, under which legal basis and handling rules,
and how reliable it is; the payload's own schema is named by ``schema``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from marshmallow import Schema, ValidationError, fields

from schemas.broker import BrokerPayloadSchema
from schemas.common import CrossCheckedSchema, ErrorCollector, StrictSchema, require_iff
from schemas.errors import FieldError, SchemaInvalid, errors_from_marshmallow
from schemas.fastpath import envelope_validator
from schemas.fields import (
    LABEL_MAX,
    REASON_MAX,
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
from schemas.illegal_employment import IllegalEmploymentPayloadSchema
from schemas.school import SchoolPayloadSchema

RECORD_TYPES = ("broker", "school", "illegal_employment")
# JWS "typ" of a record's signature and of the exchange's receipt for it (RFC 7515 §4.1.9).
RECORD_SIGNATURE_TYPE = "exchange-record+jws"
RECEIPT_SIGNATURE_TYPE = "exchange-receipt+jws"
SCHEMA_NAMES: Mapping[str, str] = MappingProxyType(
    {"broker": "broker/1", "school": "school/1", "illegal_employment": "illegal_employment/1"}
)
PAYLOAD_SCHEMAS: Mapping[str, type[Schema]] = MappingProxyType(
    {
        "broker/1": BrokerPayloadSchema,
        "school/1": SchoolPayloadSchema,
        "illegal_employment/1": IllegalEmploymentPayloadSchema,
    }
)
STATUSES = ("active", "withdrawn")
RESTRICTIONS = (
    "no_onward_sharing",
    "no_court_use_without_consent",
    "no_foreign_disclosure_without_consent",
)
# Europol's 4x4 evaluation: how reliable the source, how accurate the information.
SOURCE_RELIABILITY = ("A", "B", "C", "X")
INFORMATION_ACCURACY = ("1", "2", "3", "4")
LINK_RELATIONS = ("broker", "school", "illegal_employment", "related", "supersedes")
# Versions are stored as SQL INTEGER on SQLite and PostgreSQL alike.
VERSION_MAX = 2**31 - 1


class HandlingSchema(StrictSchema):
    """Who may see the record and on what terms."""

    audience = Items(
        agency_id_field("An agency id."),
        "null: every agency the sharing policy allows; otherwise only these agencies "
        "(still within the policy).",
        min_items=1,
        unique=True,
        required=True,
        allow_none=True,
    )
    restrictions = Items(
        Choice("A restriction on use.", RESTRICTIONS),
        "Restrictions every recipient must observe; may be empty.",
        max_items=len(RESTRICTIONS),
        unique=True,
        required=True,
    )
    legal_basis = Items(
        Text('A basis, e.g. "measure:146" or "law:入管法62条2項".', max_length=LABEL_MAX),
        "The comprehensive measure or statute under which the record is shared.",
        min_items=1,
        max_items=20,
        unique=True,
        required=True,
    )
    retention_until = date_field(
        "Last day the record may be kept; not before issued_at.", required=True
    )


class EvaluationSchema(StrictSchema):
    """The publisher's evaluation of the record (Europol 4x4)."""

    source = Choice(
        "Source reliability: A no doubt; B mostly reliable; C mostly unreliable; "
        "X cannot be judged.",
        SOURCE_RELIABILITY,
        required=True,
    )
    information = Choice(
        "Information accuracy: 1 known to be true without reservation; 2 known personally "
        "to the source; 3 not known personally to the source but corroborated; 4 cannot "
        "be judged.",
        INFORMATION_ACCURACY,
        required=True,
    )


class LinkSchema(StrictSchema):
    """A reference to another record."""

    rel = Choice("How the other record relates to this one.", LINK_RELATIONS, required=True)
    id = record_id_field("The other record's id.", required=True)


class EnvelopeSchema(CrossCheckedSchema):
    """A record version as signed by its publisher; the payload is checked by the schema
    ``schema`` names (see PAYLOAD_SCHEMAS)."""

    id = record_id_field("Record id chosen by the publisher; the idempotency key.", required=True)
    type = Choice("Record type.", RECORD_TYPES, required=True)
    schema = Choice(
        "Payload schema; must be the one of the record type.",
        tuple(SCHEMA_NAMES.values()),
        required=True,
    )
    version = Count(
        "1 creates the record; each amendment or withdrawal is the next number.",
        minimum=1,
        maximum=VERSION_MAX,
        required=True,
    )
    status = Choice("withdrawn versions carry a reason.", STATUSES, required=True)
    reason = Text(
        "Why the record is withdrawn; only on withdrawn versions.",
        max_length=REASON_MAX,
        multiline=True,
    )
    publisher = agency_id_field("The publishing agency.", required=True)
    issued_at = timestamp_field("When the publisher issued this version (UTC).", required=True)
    handling = Object(HandlingSchema, "Handling rules.", required=True)
    evaluation = Object(EvaluationSchema, "Evaluation.", required=True)
    payload = fields.Dict(
        required=True,
        metadata={
            "description": "Type-specific content, valid under the schema named by `schema`."
        },
    )
    links = Items(Object(LinkSchema, "A link."), "Related records.")

    def check(
        self, data: Mapping[str, Any], original: Mapping[str, Any], errors: ErrorCollector
    ) -> None:
        status = data.get("status")
        if status is not None:
            require_iff(original, "reason", status == "withdrawn", "status is withdrawn", errors)
        record_type, schema = data.get("type"), data.get("schema")
        if record_type and schema and SCHEMA_NAMES[record_type] != schema:
            errors.add(["schema"], f"Must be {SCHEMA_NAMES[record_type]} for type {record_type}.")
        retention_until = data.get("handling", {}).get("retention_until")
        issued_at = data.get("issued_at")
        if retention_until and issued_at and retention_until < issued_at[:10]:
            errors.add(["handling", "retention_until"], "Must not be before issued_at.")
        for index, link in enumerate(data.get("links", ())):
            if link["id"] == data.get("id"):
                errors.add(["links", index, "id"], "A record does not link to itself.")


# Schemas are built once: marshmallow instantiates a schema's fields, and its nested
# schemas on first use, and keeps them; a load on a shared instance changes nothing.
_ENVELOPE = EnvelopeSchema()
_PAYLOADS: Mapping[str, Schema] = {name: schema() for name, schema in PAYLOAD_SCHEMAS.items()}
# Built from the same instances: proves a valid envelope valid in a fraction of
# marshmallow's time, and answers None for everything else (see schemas/fastpath.py).
validate_envelope_fast = envelope_validator(_ENVELOPE, _PAYLOADS)


def validate_envelope(data: object) -> dict[str, Any]:
    """Validate a submitted envelope and its payload; return it, JSON-equal to ``data``.

    Raises SchemaInvalid with every error found, each at a JSON Pointer relative to the
    envelope ("/payload/corporate_number"). Nothing is converted: the signature covers the
    RFC 8785 bytes of exactly what was submitted.
    """
    envelope = validate_envelope_fast(data)
    if envelope is not None:
        return envelope
    return validate_envelope_with_marshmallow(data)


def validate_envelope_with_marshmallow(data: object) -> dict[str, Any]:
    """validate_envelope without the fast path: the definition of what is accepted, and
    the only source of errors."""
    if not isinstance(data, Mapping):
        raise SchemaInvalid([FieldError("", "Must be a JSON object.")])
    errors: list[FieldError] = []
    envelope: dict[str, Any] = {}
    try:
        envelope = _ENVELOPE.load(data)
    except ValidationError as error:
        errors.extend(errors_from_marshmallow(error.messages))
    schema_name = data.get("schema")
    payload_schema = _PAYLOADS.get(schema_name) if isinstance(schema_name, str) else None
    payload = data.get("payload")
    if payload_schema is not None and isinstance(payload, Mapping):
        try:
            envelope["payload"] = payload_schema.load(payload)
        except ValidationError as error:
            errors.extend(errors_from_marshmallow(error.messages, "/payload"))
    if errors:
        raise SchemaInvalid(errors)
    return envelope
