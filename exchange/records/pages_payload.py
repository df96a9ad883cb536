"""A signed record laid out for people: labelled members in the schema's order, codes with
their names, and what changed from one version to the next.

The layout follows the marshmallow schemas of ``schemas/``: members appear in the order the
schema declares them, and nested objects and lists become nested lists on the page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from marshmallow import Schema, fields

from exchange.records import presentation as words
from exchange.records.pages_places import country_label, prefecture_label
from exchange.ui.filters import jst
from schemas import PAYLOAD_SCHEMAS, EnvelopeSchema

# Members of the envelope shown with the payload and compared between versions; id,
# version, schema and issued_at are shown in the page's header and history instead.
ENVELOPE_MEMBERS = ("status", "reason", "handling", "evaluation", "links")
_MULTILINE = frozenset({"narrative", "reason"})


@dataclass
class Shown:
    """One member as shown: a label and either a value, items or members of its own."""

    label: str
    text: str = ""
    href: str | None = None
    monospace: bool = False
    multiline: bool = False
    items: list[Shown] = field(default_factory=list)
    members: list[Shown] = field(default_factory=list)
    is_list: bool = False


@dataclass(frozen=True)
class Context:
    """What turning codes into names needs: agency names and links to other records."""

    agency_name: Callable[[str], str]
    record_href: Callable[[str], str]


def _declared(schema: Any) -> dict[str, tuple[int, Any]]:
    """JSON member -> (declaration order, its field) of a marshmallow schema."""
    declared: Mapping[str, fields.Field[Any]] = getattr(schema, "_declared_fields", {})
    return {(f.data_key or name): (index, f) for index, (name, f) in enumerate(declared.items())}


def _nested(described: Any) -> Any:
    """The schema a field's members follow, through lists."""
    if isinstance(described, fields.List):
        return _nested(described.inner)
    if isinstance(described, fields.Nested):
        nested = described.nested
        return nested if isinstance(nested, type | Schema) else None
    return None


def _ordered(value: Mapping[str, Any], schema: Any) -> list[tuple[str, Any, Any]]:
    declared = _declared(schema)
    last = len(declared)
    keyed = [(declared.get(member, (last, None)), member, child) for member, child in value.items()]
    keyed.sort(key=lambda item: (item[0][0], item[1]))
    return [(member, child, _nested(described)) for (_, described), member, child in keyed]


def scalar_text(path: Sequence[str], value: Any, context: Context) -> Shown:
    member = path[-1] if path else ""
    shown = Shown(label="")
    if value is None:
        shown.text = (
            _("Every agency the sharing policy allows") if member == "audience" else _("None")
        )
    elif isinstance(value, bool):
        shown.text = _("Yes") if value else _("No")
    elif not isinstance(value, str):
        shown.text = str(value)
    elif member in words.COUNTRY_MEMBERS:
        shown.text = country_label(value)
    elif member in words.PREFECTURE_MEMBERS:
        shown.text = prefecture_label(value)
    elif member in words.AGENCY_MEMBERS:
        shown.text = context.agency_name(value)
    elif member in words.RECORD_MEMBERS or tuple(path[-2:]) == ("links", "id"):
        shown.text, shown.href, shown.monospace = value, context.record_href(value), True
    elif member in words.TOKEN_MEMBERS:
        shown.text, shown.monospace = value, True
    elif member == "issued_at":
        shown.text = jst(value)
    elif (vocabulary := words.value_vocabulary(path)) is not None:
        shown.text = words.label_of(vocabulary, value)
    else:
        shown.text, shown.multiline = value, member in _MULTILINE
    return shown


def _show(path: list[str], value: Any, schema: Any, context: Context) -> Shown:
    label = str(words.field_label(path[-1]))
    if isinstance(value, Mapping):
        return Shown(label=label, members=_members(path, value, schema, context))
    if isinstance(value, list):
        items = []
        for number, item in enumerate(value, start=1):
            if isinstance(item, Mapping):
                members = _members(path, item, schema, context)
                items.append(Shown(label=str(number), members=members))
            else:
                items.append(scalar_text(path, item, context))
        return Shown(label=label, items=items, is_list=True)
    shown = scalar_text(path, value, context)
    shown.label = label
    return shown


def _members(
    path: list[str], value: Mapping[str, Any], schema: Any, context: Context
) -> list[Shown]:
    return [
        _show([*path, member], child, nested, context)
        for member, child, nested in _ordered(value, schema)
    ]


def present_payload(envelope: Mapping[str, Any], context: Context) -> list[Shown]:
    """The payload's members, labelled, in the order its schema declares them."""
    schema = PAYLOAD_SCHEMAS.get(str(envelope.get("schema")))
    payload = envelope.get("payload")
    if not isinstance(payload, Mapping):
        return []
    return _members([], payload, schema, context)


def present_envelope(envelope: Mapping[str, Any], context: Context) -> list[Shown]:
    """Handling, evaluation and links: how the record may be used and how reliable it is."""
    shown = {m: envelope[m] for m in ("handling", "evaluation", "links") if m in envelope}
    return _members([], shown, EnvelopeSchema, context)


# Comparing versions ---------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One member that differs between two versions.

    ``kind``: added, removed, changed (``before`` and ``after`` are the values), or items
    (a list: ``before`` holds the items that left it, ``after`` those that joined it).
    """

    kind: str
    label: str
    before: str = ""
    after: str = ""


def _flatten(
    path: list[str],
    labels: list[str],
    value: Any,
    context: Context,
    into: dict[tuple[str, ...], tuple[str, Any]],
) -> None:
    """Leaves by their path; a list of codes or names is one leaf, compared as a set."""
    if isinstance(value, Mapping):
        for member, child in value.items():
            label = str(words.field_label(member))
            _flatten([*path, member], [*labels, label], child, context, into)
    elif isinstance(value, list) and any(isinstance(item, Mapping) for item in value):
        for number, item in enumerate(value, start=1):
            numbered = [*labels[:-1], f"{labels[-1]} {number}"] if labels else [str(number)]
            _flatten([*path, str(number)], numbered, item, context, into)
    elif isinstance(value, list):
        names = [p for p in path if not p.isdigit()]
        texts = frozenset(scalar_text(names, item, context).text for item in value)
        into[tuple(path)] = (" › ".join(labels), texts)
    else:
        names = [p for p in path if not p.isdigit()]
        into[tuple(path)] = (" › ".join(labels), scalar_text(names, value, context).text)


def _comparable(envelope: Mapping[str, Any], context: Context) -> dict[tuple[str, ...], Any]:
    leaves: dict[tuple[str, ...], tuple[str, Any]] = {}
    for member in ENVELOPE_MEMBERS:
        if member in envelope:
            label = str(words.field_label(member))
            _flatten([member], [label], envelope[member], context, leaves)
    payload = envelope.get("payload")
    if isinstance(payload, Mapping):
        _flatten([], [], payload, context, leaves)
    return leaves


def _joined(texts: Any) -> str:
    return "、".join(sorted(texts)) if isinstance(texts, frozenset) else str(texts)


def compare_versions(
    before: Mapping[str, Any], after: Mapping[str, Any], context: Context
) -> list[Change]:
    """What a version changed, member by member, with labels and readable values."""
    old, new = _comparable(before, context), _comparable(after, context)
    changes: list[Change] = []
    for path in [*old, *(p for p in new if p not in old)]:
        if path not in new:
            changes.append(Change("removed", old[path][0], before=_joined(old[path][1])))
        elif path not in old:
            changes.append(Change("added", new[path][0], after=_joined(new[path][1])))
        elif old[path][1] != new[path][1]:
            was, now = old[path][1], new[path][1]
            if isinstance(was, frozenset) and isinstance(now, frozenset):
                # Items of a list: which left it and which joined it.
                changes.append(
                    Change("items", new[path][0], _joined(was - now), _joined(now - was))
                )
            else:
                changes.append(Change("changed", new[path][0], _joined(was), _joined(now)))
    return changes
