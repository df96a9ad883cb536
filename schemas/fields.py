"""Field types shared by the envelope and every payload.

Two rules hold for every field here:

- **Loading returns the input unchanged.** A record is signed over the RFC 8785 bytes of
  exactly what the publisher sent, so dates, timestamps and UUIDs are checked as strings
  and returned as the same strings; nothing is coerced, defaulted or stripped. Their
  OpenAPI ``format`` comes from metadata instead of from marshmallow's converting fields.
- **Everything is bounded.** Strings, lists and counts have limits, so the exchange never
  stores unbounded input, and integers stay inside the range RFC 8785 can represent
  exactly (IEEE 754 doubles, §3.2.2.3).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import date
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from schemas import identifiers

NAME_MAX = 300
LABEL_MAX = 200
REFERENCE_MAX = 100
REASON_MAX = 2_000
NARRATIVE_MAX = 10_000
URL_MAX = 2_000
LIST_MAX = 100
COUNT_MAX = 1_000_000

# Characters no name or reference legitimately contains: C0 and C1 controls (PostgreSQL
# text cannot even store NUL), line and paragraph separators, the bidirectional embedding,
# override and isolate controls that make a name display as something else (CVE-2021-42574,
# "Trojan Source"), and lone surrogates, which have no UTF-8 encoding and so no RFC 8785 form.
_FORBIDDEN_IN_LINE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
# The same rule for OpenAPI (ECMA-262 syntax, which Python's re also reads): no forbidden
# character, and no whitespace at either end. Lone surrogates are left out: they are not
# Unicode scalar values, so no conforming client has one to send (RFC 8259 §8.2).
_LINE_CHARACTERS = "\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069"
LINE_PATTERN = f"^[^\\s{_LINE_CHARACTERS}](?:[^{_LINE_CHARACTERS}]*[^\\s{_LINE_CHARACTERS}])?$"
# Free text may also break lines and indent.
_FORBIDDEN_IN_TEXT = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
# RFC 3339 §5.6 full-date; fromisoformat alone would also take "20250101" and "2025-W01".
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
# RFC 3339 §5.6 date-time in UTC: "Z" only, seconds required, any fraction.
_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?Z"
)


def is_date(value: str) -> bool:
    """An RFC 3339 full-date (YYYY-MM-DD) that exists in the calendar."""
    match = _DATE.fullmatch(value)
    if match is None:
        return False
    try:
        date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return False
    return True


def is_utc_timestamp(value: str) -> bool:
    """An RFC 3339 date-time in UTC ("2026-11-25T10:00:00Z", optional fraction)."""
    match = _TIMESTAMP.fullmatch(value)
    if match is None or not is_date(value[:10]):
        return False
    # RFC 3339 allows a leap second (":60"); the exchange's clocks and Python's do not.
    return int(match[4]) <= 23 and int(match[5]) <= 59 and int(match[6]) <= 59


def _describe(description: str, kwargs: dict[str, Any], **openapi: Any) -> dict[str, Any]:
    """Fold a description and OpenAPI keywords into the field's metadata."""
    metadata = dict(kwargs.pop("metadata", None) or {})
    metadata.setdefault("description", description)
    metadata.update(openapi)
    kwargs["metadata"] = metadata
    return kwargs


class _ValidatorsInTurn:
    """Runs a field's validators one after the other, keeping every message.

    marshmallow's Field._validate builds an And() of the validators on every call; on the
    publish hot path that allocation is a measurable share of validation, and most of the
    fields here have no validator left to run at all.
    """

    validators: list[Callable[[Any], Any]]

    def _validate(self, value: Any) -> None:
        messages: list[Any] = []
        for validator in self.validators:
            try:
                if validator(value) is False:
                    messages.append("Invalid value.")
            except ValidationError as error:
                messages.extend(error.messages)
        if messages:
            raise ValidationError(messages)


class _Str(_ValidatorsInTurn, fields.String):
    """A JSON string, never bytes or anything else marshmallow would otherwise accept."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        return value


class Text(_Str):
    """Human-written text: bounded, free of control characters, no surrounding spaces."""

    def __init__(
        self,
        description: str,
        *,
        max_length: int,
        multiline: bool = False,
        **kwargs: Any,
    ) -> None:
        self.multiline = multiline
        self.max_length = max_length
        openapi: dict[str, Any] = {} if multiline else {"pattern": LINE_PATTERN}
        super().__init__(
            **_describe(description, kwargs, minLength=1, maxLength=max_length, **openapi)
        )

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        text = value
        if not text or len(text) > self.max_length:
            raise ValidationError(f"Length must be between 1 and {self.max_length}.")
        if self.multiline:
            if _FORBIDDEN_IN_TEXT.search(text):
                raise ValidationError("Contains a control or bidirectional formatting character.")
            if not text.strip():
                raise ValidationError("Must not be blank.")
        else:
            if _FORBIDDEN_IN_LINE.search(text):
                raise ValidationError(
                    "Contains a line break, control or bidirectional formatting character."
                )
            if text != text.strip():
                raise ValidationError("Must not start or end with whitespace.")
        return text


class Checked(_Str):
    """A string accepted by a predicate (an identifier rule), returned unchanged."""

    def __init__(
        self,
        description: str,
        *,
        check: Callable[[str], bool],
        error: str,
        pattern: str | None = None,
        format: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.check = check
        self.error = error
        openapi = {"pattern": pattern} if pattern else {}
        if format:
            openapi["format"] = format
        super().__init__(**_describe(description, kwargs, **openapi))

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        if not self.check(value):
            raise ValidationError(self.error)
        return value


class ResidenceCardToken(Checked):
    """A residence card matching token; a raw card number gets an error that says so."""

    def __init__(self, description: str, **kwargs: Any) -> None:
        super().__init__(
            description,
            check=identifiers.is_residence_card_token,
            error="Not a residence card token (rct1_ and 43 base64url characters).",
            pattern=identifiers.RESIDENCE_CARD_TOKEN_PATTERN,
            **kwargs,
        )

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        # Personal-data minimisation (DESIGN §4): the number itself must never be stored,
        # so refuse it explicitly rather than as a malformed token.
        if isinstance(value, str) and identifiers.looks_like_residence_card_number(value):
            raise ValidationError(
                "A raw residence card number is not accepted; send its rct1_ matching token."
            )
        return super()._deserialize(value, attr, data, **kwargs)


class Choice(_Str):
    """One value of a closed vocabulary."""

    def __init__(self, description: str, choices: Sequence[str], **kwargs: Any) -> None:
        super().__init__(validate=validate.OneOf(choices), **_describe(description, kwargs))


class Count(_ValidatorsInTurn, fields.Integer):
    """A JSON integer in a range; true and false are not numbers, nor is 1.0."""

    def __init__(
        self, description: str, *, minimum: int = 0, maximum: int = COUNT_MAX, **kwargs: Any
    ) -> None:
        super().__init__(
            strict=True,
            validate=validate.Range(min=minimum, max=maximum),
            **_describe(description, kwargs),
        )


class Unique(validate.Validator):
    """No item twice: a repeated value in a list of codes is a mistake, not emphasis."""

    error = "Contains duplicate items."

    def __call__(self, value: Sequence[Hashable]) -> Sequence[Hashable]:
        if len(set(value)) != len(value):
            raise ValidationError(self.error)
        return value


class Items(_ValidatorsInTurn, fields.List[Any]):
    """A JSON array of a bounded length; items unique when ``unique``."""

    def __init__(
        self,
        item: fields.Field[Any],
        description: str,
        *,
        min_items: int = 0,
        max_items: int = LIST_MAX,
        unique: bool = False,
        **kwargs: Any,
    ) -> None:
        self.max_items = max_items
        self.length_error = (
            f"Must have between {min_items} and {max_items} items."
            if min_items
            else f"Must have at most {max_items} items."
        )
        checks: list[validate.Validator] = [
            validate.Length(min=min_items or None, max=max_items, error=self.length_error)
        ]
        openapi: dict[str, Any] = {}
        if unique:
            checks.append(Unique())
            openapi["uniqueItems"] = True
        super().__init__(item, validate=checks, **_describe(description, kwargs, **openapi))

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> list[Any]:
        # Only a real list: a set or a generator has no stable order to sign.
        if not isinstance(value, list):
            raise self.make_error("invalid")
        # Refuse an oversized list before validating a single item of it.
        if len(value) > self.max_items:
            raise ValidationError(self.length_error)
        inner = self.inner
        result: list[Any] = []
        errors: dict[int, Any] = {}
        for index, item in enumerate(value):
            try:
                result.append(inner.deserialize(item, **kwargs))
            except ValidationError as error:
                errors[index] = error.messages
        if errors:
            raise ValidationError(errors)
        return result


class WebUrl(_ValidatorsInTurn, fields.Url):
    """An absolute http or https URL with a domain name, at most URL_MAX characters."""

    def __init__(self, description: str, **kwargs: Any) -> None:
        super().__init__(
            schemes={"http", "https"},
            require_tld=True,
            validate=validate.Length(max=URL_MAX),
            **_describe(description, kwargs, maxLength=URL_MAX),
        )

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class Object(_ValidatorsInTurn, fields.Nested):
    """A nested JSON object described by its own schema."""

    def __init__(self, schema: type[Schema], description: str, **kwargs: Any) -> None:
        super().__init__(schema, **_describe(description, kwargs))


def date_field(description: str, **kwargs: Any) -> Checked:
    """An RFC 3339 full-date, kept as the submitted string."""
    return Checked(
        description, check=is_date, error="Not a valid date (YYYY-MM-DD).", format="date", **kwargs
    )


def timestamp_field(description: str, **kwargs: Any) -> Checked:
    """An RFC 3339 UTC date-time ending in "Z", kept as the submitted string."""
    return Checked(
        description,
        check=is_utc_timestamp,
        error="Not a valid UTC timestamp (YYYY-MM-DDThh:mm:ss[.fraction]Z).",
        format="date-time",
        **kwargs,
    )


def record_id_field(description: str, **kwargs: Any) -> Checked:
    """A record id: a lower-case canonical UUID."""
    return Checked(
        description,
        check=identifiers.is_record_id,
        error="Not a lower-case canonical UUID.",
        pattern=identifiers.UUID_PATTERN,
        format="uuid",
        **kwargs,
    )


def agency_id_field(description: str, **kwargs: Any) -> Checked:
    """An agency id of the exchange's directory."""
    return Checked(
        description,
        check=identifiers.is_agency_id,
        error="Not a valid agency id.",
        pattern=identifiers.AGENCY_ID_PATTERN,
        **kwargs,
    )


def country_field(description: str, **kwargs: Any) -> Checked:
    """An officially assigned ISO 3166-1 alpha-2 code."""
    return Checked(
        description + " ISO 3166-1 alpha-2, officially assigned codes only.",
        check=identifiers.is_country_code,
        error="Not an officially assigned ISO 3166-1 alpha-2 country code.",
        pattern="^[A-Z]{2}$",
        **kwargs,
    )


def prefecture_field(description: str, **kwargs: Any) -> Checked:
    """A JIS X 0401 prefecture code."""
    return Checked(
        description + " JIS X 0401 prefecture code, 01-47.",
        check=identifiers.is_prefecture_code,
        error="Not a JIS X 0401 prefecture code (01-47).",
        pattern="^(0[1-9]|[1-3][0-9]|4[0-7])$",
        **kwargs,
    )


def municipality_field(description: str, **kwargs: Any) -> Checked:
    """A JIS X 0402 municipality code with its check digit."""
    return Checked(
        description + " JIS X 0402 code, six digits including the check digit.",
        check=identifiers.is_municipality_code,
        error="Not a JIS X 0402 municipality code (six digits with a valid check digit).",
        pattern="^[0-9]{6}$",
        **kwargs,
    )


def corporate_number_field(description: str, **kwargs: Any) -> Checked:
    """A corporate number (法人番号) with its check digit."""
    return Checked(
        description + " Corporate number (法人番号), 13 digits, the first a check digit.",
        check=identifiers.is_corporate_number,
        error="Not a valid corporate number (13 digits with a valid check digit).",
        pattern="^[0-9]{13}$",
        **kwargs,
    )
