"""Record contracts of the exchange: the envelope, the payload of every record type, and
validators of the identifiers they carry. No Flask, no database: agencies use this package
alone to validate a record before they sign it."""

from schemas.broker import BrokerPayloadSchema
from schemas.envelope import (
    PAYLOAD_SCHEMAS,
    RECEIPT_SIGNATURE_TYPE,
    RECORD_SIGNATURE_TYPE,
    RECORD_TYPES,
    SCHEMA_NAMES,
    EnvelopeSchema,
    EvaluationSchema,
    HandlingSchema,
    LinkSchema,
    validate_envelope,
)
from schemas.errors import FieldError, SchemaInvalid, errors_from_marshmallow
from schemas.identifiers import (
    MATCHING_KEY_MIN_BYTES,
    RESIDENCE_CARD_PATTERN,
    corporate_number_check_digit,
    is_agency_id,
    is_corporate_number,
    is_country_code,
    is_municipality_code,
    is_prefecture_code,
    is_record_id,
    is_residence_card_number,
    is_residence_card_token,
    is_supervising_licence,
    municipality_check_digit,
    normalise_residence_card_number,
    residence_card_token,
)
from schemas.illegal_employment import IllegalEmploymentPayloadSchema
from schemas.projection import SearchFields, search_fields
from schemas.referral import (
    REFERRAL_SIGNATURE_TYPE,
    validate_referral,
    validate_referral_step,
)
from schemas.school import SchoolPayloadSchema

__all__ = [
    "MATCHING_KEY_MIN_BYTES",
    "PAYLOAD_SCHEMAS",
    "RECEIPT_SIGNATURE_TYPE",
    "RECORD_SIGNATURE_TYPE",
    "RECORD_TYPES",
    "REFERRAL_SIGNATURE_TYPE",
    "RESIDENCE_CARD_PATTERN",
    "SCHEMA_NAMES",
    "BrokerPayloadSchema",
    "EnvelopeSchema",
    "EvaluationSchema",
    "FieldError",
    "HandlingSchema",
    "IllegalEmploymentPayloadSchema",
    "LinkSchema",
    "SchemaInvalid",
    "SchoolPayloadSchema",
    "SearchFields",
    "corporate_number_check_digit",
    "errors_from_marshmallow",
    "is_agency_id",
    "is_corporate_number",
    "is_country_code",
    "is_municipality_code",
    "is_prefecture_code",
    "is_record_id",
    "is_residence_card_number",
    "is_residence_card_token",
    "is_supervising_licence",
    "municipality_check_digit",
    "normalise_residence_card_number",
    "residence_card_token",
    "search_fields",
    "validate_envelope",
    "validate_referral",
    "validate_referral_step",
]
