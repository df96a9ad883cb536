"""Request and response shapes of the records API, for validation and for OpenAPI."""

from __future__ import annotations

import marshmallow as ma

from exchange.agencies.policy import PURPOSES
from exchange.urlnumbers import CanonicalInteger
from schemas import RECORD_TYPES, EnvelopeSchema


class SubmissionSchema(ma.Schema):
    record = ma.fields.Nested(EnvelopeSchema, required=True)
    signature = ma.fields.String(
        required=True,
        metadata={
            "description": "JWS compact serialization with detached payload (RFC 7515 "
            "appendix F) over the RFC 8785 bytes of `record`."
        },
    )


class BatchSubmissionSchema(ma.Schema):
    records = ma.fields.List(
        ma.fields.Nested(SubmissionSchema),
        required=True,
        metadata={"description": "Published all together or not at all."},
    )


class PublishedSchema(ma.Schema):
    id = ma.fields.String()
    version = ma.fields.Integer()
    created = ma.fields.Boolean(
        metadata={"description": "False when the identical version was already stored."}
    )
    receipt = ma.fields.String(
        metadata={
            "description": "Compact JWS by the exchange (its keys at /.well-known/jwks.json) "
            "whose claims bind the record id, version, SHA-256 of the canonical bytes, "
            "time of receipt and the request's audit entry."
        }
    )


class BatchPublishedSchema(ma.Schema):
    results = ma.fields.List(
        ma.fields.Nested(PublishedSchema), metadata={"description": "In submission order."}
    )


class KeyStateSchema(ma.Schema):
    kid = ma.fields.String()
    agency = ma.fields.String()
    status = ma.fields.String()


class FlagsSchema(ma.Schema):
    key_compromised = ma.fields.Boolean(
        metadata={"description": "Signed or received after the signing key's compromise time."}
    )


class RecordVersionSchema(ma.Schema):
    record = ma.fields.Nested(EnvelopeSchema)
    signature = ma.fields.String()
    receipt = ma.fields.String()
    received_at = ma.fields.String()
    key = ma.fields.Nested(KeyStateSchema)
    flags = ma.fields.Nested(FlagsSchema)


class VersionListSchema(ma.Schema):
    versions = ma.fields.List(ma.fields.Nested(RecordVersionSchema))


class SearchPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(RecordVersionSchema))
    next_cursor = ma.fields.String(allow_none=True)


class ReadArgsSchema(ma.Schema):
    version = CanonicalInteger(
        # Versions are stored as 32-bit integers: a larger number names no version, and
        # PostgreSQL would refuse to compare with it.
        validate=ma.validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "A version number; default: the current version."},
    )


class SearchArgsSchema(ma.Schema):
    type = ma.fields.String(validate=ma.validate.OneOf(RECORD_TYPES))
    publisher = ma.fields.String(validate=ma.validate.Length(max=32))
    country = ma.fields.String(validate=ma.validate.Regexp(r"^[A-Z]{2}$"))
    prefecture = ma.fields.String(validate=ma.validate.Regexp(r"^(0[1-9]|[1-3][0-9]|4[0-7])$"))
    category = ma.fields.String(validate=ma.validate.Length(max=64))
    allegation = ma.fields.String(
        validate=ma.validate.Length(max=64),
        metadata={"description": "A broker's allegation or an employer's offence code."},
    )
    programme = ma.fields.String(validate=ma.validate.Length(max=64))
    status = ma.fields.String(validate=ma.validate.OneOf(("active", "withdrawn")))
    issued_from = ma.fields.Date(data_key="from")
    issued_to = ma.fields.Date(data_key="to")
    q = ma.fields.String(
        validate=ma.validate.Length(min=1, max=200),
        metadata={"description": "Free text over names and aliases."},
    )
    card = ma.fields.String(
        validate=ma.validate.Regexp(r"^rct1_[A-Za-z0-9_-]{43}$"),
        metadata={
            "description": "Residence-card matching token (rct1_…): records whose current "
            "version names it. Kept in the audit log only as an HMAC."
        },
    )
    cursor = ma.fields.String(validate=ma.validate.Length(max=200))
    limit = CanonicalInteger(load_default=50, validate=ma.validate.Range(min=1, max=200))


PURPOSE_HEADER = {
    "name": "Exchange-Purpose",
    "in": "header",
    "required": True,
    "description": "Why the record is read (DESIGN §5); recorded in the audit entry.",
    "schema": {"type": "string", "enum": list(PURPOSES)},
}
