"""Schemas and helpers shared by the envelope and every payload: strict objects, rules
across fields, and the period of dates several record types carry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, validates_schema

from schemas.errors import FieldError, SchemaInvalid, errors_from_marshmallow
from schemas.fields import date_field


class StrictSchema(Schema):
    """A JSON object whose unknown members are errors: a signed record must not carry data
    nobody validated."""

    class Meta:
        unknown = RAISE


class ErrorCollector:
    """Cross-field errors, keyed like marshmallow's messages, reported all at once."""

    def __init__(self) -> None:
        self.messages: dict[str | int, Any] = {}

    def add(self, path: Sequence[str | int], message: str) -> None:
        node = self.messages
        for step in path[:-1]:
            child = node.setdefault(step, {})
            if isinstance(child, list):
                # Messages about the member itself go under "_schema", as marshmallow's do,
                # once errors inside it must be kept too.
                child = node[step] = {"_schema": child}
            node = child
        existing = node.setdefault(path[-1], [])
        if isinstance(existing, dict):
            existing = existing.setdefault("_schema", [])
        existing.append(message)


class CrossCheckedSchema(StrictSchema):
    """A schema with rules across its fields, checked even when some fields are invalid.

    ``check`` sees ``data`` (the fields that passed their own validation) and ``original``
    (what was submitted, to tell an absent member from an invalid one), so a rule never
    repeats an error a field has already reported.
    """

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _run_checks(self, data: Mapping[str, Any], original: Any, **kwargs: Any) -> None:
        if not isinstance(original, Mapping):
            return  # not an object: the type error is already reported
        errors = ErrorCollector()
        self.check(data, original, errors)
        if errors.messages:
            raise ValidationError(errors.messages)

    def check(
        self, data: Mapping[str, Any], original: Mapping[str, Any], errors: ErrorCollector
    ) -> None:
        raise NotImplementedError


def require_iff(
    original: Mapping[str, Any], member: str, condition: bool, when: str, errors: ErrorCollector
) -> None:
    """``member`` must be present exactly when ``condition`` holds (described by ``when``)."""
    if condition and member not in original:
        errors.add([member], f"Required when {when}.")
    elif not condition and member in original:
        errors.add([member], f"Allowed only when {when}.")


def check_municipality_in_prefecture(
    data: Mapping[str, Any], errors: ErrorCollector, path: Sequence[str | int] = ()
) -> None:
    """A JIS X 0402 code begins with the JIS X 0401 code of its prefecture."""
    municipality = data.get("municipality")
    prefecture = data.get("prefecture")
    if municipality and prefecture and not municipality.startswith(prefecture):
        errors.add([*path, "municipality"], f"Not a municipality of prefecture {prefecture}.")


class PeriodSchema(CrossCheckedSchema):
    """A closed range of dates."""

    # "from" is a Python keyword; ``attribute`` keeps it the key of the loaded data.
    from_ = date_field("First day.", data_key="from", attribute="from", required=True)
    to = date_field("Last day; not before `from`.", required=True)

    def check(
        self, data: Mapping[str, Any], original: Mapping[str, Any], errors: ErrorCollector
    ) -> None:
        # Valid full-dates order correctly as strings.
        if "from" in data and "to" in data and data["from"] > data["to"]:
            errors.add(["to"], "Must not be before from.")


def load_document(schema: Schema, data: object) -> dict[str, Any]:
    """``data`` loaded by ``schema``, JSON-equal to it; raises SchemaInvalid with every error."""
    if not isinstance(data, Mapping):
        raise SchemaInvalid([FieldError("", "Must be a JSON object.")])
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ValidationError as error:
        raise SchemaInvalid(errors_from_marshmallow(error.messages)) from None
    return loaded
