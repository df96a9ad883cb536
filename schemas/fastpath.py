"""A fast path for validate_envelope: proves an envelope valid without running marshmallow.

Most of the time marshmallow spends on a valid record goes to its machinery (error stores,
hooks, a closure per field per load), not to the rules. This module walks the very schema
instances validate_envelope loads with and builds one plain function per field from them.
Each function either returns what marshmallow's load would return for that value or gives
up; giving up means "not sure", and marshmallow then decides and words the errors. So the
fast path never reports an error and only has to be right about what it accepts.

The rules are not restated here. Text, identifiers, dates and tokens are checked by their
field's own ``_deserialize``, cross-field rules by each schema's own ``check``; only the
closed vocabularies, integer ranges and list bounds are read off marshmallow's validators.
Anything the walk does not recognise exactly (a field class, a validator, a hook, a schema
or field option) compiles to a function that always gives up, so a schema change can make
the fast path slower but never make it accept what marshmallow refuses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeGuard, TypeVar

from marshmallow import RAISE, Schema, ValidationError, fields, missing, validate

from schemas.common import CrossCheckedSchema, ErrorCollector
from schemas.fields import (
    Checked,
    Choice,
    Count,
    Items,
    Object,
    ResidenceCardToken,
    Text,
    Unique,
    WebUrl,
)

# Takes a submitted value; returns it as marshmallow's load would, or raises _NotSure.
Loader = Callable[[Any], Any]
EnvelopeValidator = Callable[[object], "dict[str, Any] | None"]

# Fields whose _deserialize holds their whole rule and returns the value unchanged.
_SELF_CHECKING = (Text, Checked, ResidenceCardToken)
_ABSENT = object()
_T = TypeVar("_T")


class _NotSure(Exception):
    """The fast path cannot prove a value valid; marshmallow decides."""


class _RefusingCollector(ErrorCollector):
    """Stops a cross-field check at its first error: the fast path needs no messages."""

    def add(self, path: Sequence[str | int], message: str) -> None:
        raise _NotSure


_REFUSE = _RefusingCollector()


def _never(value: Any) -> Any:
    """The loader of anything the walk does not recognise."""
    raise _NotSure


def envelope_validator(
    envelope_schema: Schema, payload_schemas: Mapping[str, Schema]
) -> EnvelopeValidator:
    """A function that returns what validate_envelope would for an envelope it can prove
    valid, and None for any other input.

    ``payload`` is checked by the schema ``schema`` names, as validate_envelope does.
    """
    load_envelope = _schema_loader(envelope_schema)
    payload_loaders = {name: _schema_loader(schema) for name, schema in payload_schemas.items()}

    def validate_fast(data: object) -> dict[str, Any] | None:
        try:
            envelope: dict[str, Any] = load_envelope(data)
            envelope["payload"] = payload_loaders[envelope["schema"]](envelope["payload"])
        # Whatever went wrong, marshmallow's answer is the right one: it alone reports
        # errors, and an exception it would raise too is raised from there.
        except Exception:
            return None
        return envelope

    return validate_fast


def _schema_loader(schema: Schema) -> Loader:
    """Load a JSON object as ``schema.load`` does: members in field order, unknown members
    refused, absent optional members left out, then the schema's cross-field check."""
    if not _is_plain_schema(schema):
        return _never
    members: list[tuple[str, str, Loader, bool]] = []
    for name, field in schema.load_fields.items():
        key = field.data_key if field.data_key is not None else name
        attribute = field.attribute or name
        loader = _field_loader(field)
        # marshmallow nests a dotted attribute ("a.b") in the loaded data.
        if loader is _never or "." in attribute:
            return _never
        members.append((key, attribute, loader, field.required))
    fields_in_order = tuple(members)
    check = schema.check if isinstance(schema, CrossCheckedSchema) else None

    def load(value: Any) -> dict[str, Any]:
        if type(value) is not dict:
            raise _NotSure
        result: dict[str, Any] = {}
        found = 0
        for key, attribute, loader, required in fields_in_order:
            item = value.get(key, _ABSENT)
            if item is _ABSENT:
                if required:
                    raise _NotSure
            else:
                result[attribute] = loader(item)
                found += 1
        # Keys are distinct, so every member matched a field exactly when the counts agree;
        # otherwise there is an unknown member, which Meta.unknown = RAISE refuses.
        if found != len(value):
            raise _NotSure
        if check is not None:
            check(result, value, _REFUSE)
        return result

    return load


def _is_plain_schema(schema: Schema) -> bool:
    """Loading ``schema`` is its fields and at most CrossCheckedSchema's check: no other
    hook, unknown members refused, nothing partial, plain dicts out."""
    hooks = {hook[0] for tagged in schema._hooks.values() for hook in tagged}
    if isinstance(schema, CrossCheckedSchema):
        cls = type(schema)
        plain_hooks = (
            hooks == {"_run_checks"}
            and cls._run_checks is CrossCheckedSchema._run_checks
            and cls.check is not CrossCheckedSchema.check
        )
    else:
        plain_hooks = not hooks
    return (
        plain_hooks
        and schema.unknown == RAISE
        and not schema.many
        and not schema.partial
        and schema.dict_class is dict
    )


def _field_loader(field: fields.Field[Any]) -> Loader:
    """Load one member's value as ``field.deserialize`` does."""
    # A default or a field-level processor changes what loading returns.
    if field.load_default is not missing or field.pre_load or field.post_load:
        return _never
    loader = _value_loader(field)
    if loader is _never or not field.allow_none:
        # Every loader refuses None by its type check, as a field without allow_none does.
        return loader

    def load_or_none(value: Any) -> Any:
        return None if value is None else loader(value)

    return load_or_none


def _value_loader(field: fields.Field[Any]) -> Loader:
    if _exactly(field, Choice):
        return _choice_loader(field)
    if _exactly(field, Count):
        return _count_loader(field)
    if type(field) in _SELF_CHECKING and not field.validators:
        return _string_loader(field._deserialize)
    if _exactly(field, WebUrl):
        return _string_loader(field.deserialize)
    if _exactly(field, Items):
        return _items_loader(field)
    if _exactly(field, Object):
        return _object_loader(field)
    if _exactly(field, fields.Dict):
        return _mapping_loader(field)
    return _never


def _exactly(value: object, cls: type[_T]) -> TypeGuard[_T]:
    """Exact classes only: a subclass may override any rule."""
    return type(value) is cls


def _choice_loader(field: Choice) -> Loader:
    match field.validators:
        case [validate.OneOf() as one_of] if type(one_of) is validate.OneOf:
            choices = list(one_of.choices)
        case _:
            return _never
    if not all(type(choice) is str for choice in choices):
        return _never
    allowed = frozenset(choices)

    def load(value: Any) -> Any:
        if type(value) is not str or value not in allowed:
            raise _NotSure
        return value

    return load


def _count_loader(field: Count) -> Loader:
    match field.validators:
        case [validate.Range() as bounds] if type(bounds) is validate.Range:
            low, high = bounds.min, bounds.max
            inclusive = bounds.min_inclusive and bounds.max_inclusive
        case _:
            return _never
    if not (field.strict and inclusive and type(low) is int and type(high) is int):
        return _never

    def load(value: Any) -> Any:
        # type() rather than isinstance(): True is an int to Python but not to a strict
        # Integer, and JSON numbers are plain ints.
        if type(value) is not int or not low <= value <= high:
            raise _NotSure
        return value

    return load


def _string_loader(deserialize: Callable[[str, None, None], Any]) -> Loader:
    """A JSON string, loaded by the field's own code: ``_deserialize`` for a field whose
    whole rule is there, ``deserialize`` (validators too) for one whose validators are not
    read here."""

    def load(value: Any) -> Any:
        if type(value) is not str:
            raise _NotSure
        try:
            return deserialize(value, None, None)
        except ValidationError:
            raise _NotSure from None

    return load


def _items_loader(field: Items) -> Loader:
    checks = list(field.validators)
    unique = bool(checks) and type(checks[-1]) is Unique
    if unique:
        checks.pop()
    match checks:
        case [validate.Length() as length] if (
            type(length) is validate.Length and length.equal is None
        ):
            low = length.min or 0
            high = field.max_items if length.max is None else min(length.max, field.max_items)
        case _:
            return _never
    inner = field.inner
    # Unique compares items in a set: only the string fields' items are hashable.
    if unique and type(inner) not in (Choice, *_SELF_CHECKING):
        return _never
    load_item = _field_loader(inner)
    if load_item is _never:
        return _never

    def load(value: Any) -> list[Any]:
        if type(value) is not list or not low <= len(value) <= high:
            raise _NotSure
        result = [load_item(item) for item in value]
        if unique and len(set(result)) != len(result):
            raise _NotSure
        return result

    return load


def _object_loader(field: Object) -> Loader:
    if field.validators or field.many or field.only is not None or field.exclude:
        return _never
    if field.unknown is not None:
        return _never
    return _schema_loader(field.schema)


def _mapping_loader(field: fields.Dict) -> Loader:
    """A JSON object of anything, copied as marshmallow copies it (validate_envelope then
    replaces the envelope's payload with what the payload's schema loads)."""
    if field.key_field or field.value_field or field.validators or field.mapping_type is not dict:
        return _never

    def load(value: Any) -> dict[Any, Any]:
        if type(value) is not dict:
            raise _NotSure
        return dict(value)

    return load
