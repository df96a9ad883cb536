"""The fast path of validate_envelope accepts exactly what marshmallow accepts.

marshmallow (validate_envelope_with_marshmallow) is the definition. For every JSON document
the fast path must either return what marshmallow returns, or None when marshmallow refuses;
validate_envelope must then answer exactly as marshmallow does, errors included. Documents
are valid records broken in the ways publishers and attackers break them.
"""

from __future__ import annotations

import copy
import random
from collections import OrderedDict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from enum import IntEnum
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import EXCLUDE, Schema, fields, post_load

from exchange.demo.records import DEMO_AGENCIES, PUBLISHER_KINDS, make_envelope
from schemas import (
    PAYLOAD_SCHEMAS,
    RECORD_TYPES,
    EnvelopeSchema,
    SchemaInvalid,
    broker,
    envelope,
    illegal_employment,
    school,
    validate_envelope,
)
from schemas.envelope import validate_envelope_fast, validate_envelope_with_marshmallow
from schemas.fastpath import envelope_validator
from schemas.fields import Text
from tests.schemas import examples

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
HAND_WRITTEN = [
    examples.broker(),
    examples.domestic_broker(),
    examples.school_arrest(),
    examples.school_visa_screening(),
    examples.illegal_employment(),
    {**examples.broker(), "version": 2, "status": "withdrawn", "reason": "Duplicate.\nSee 12."},
    examples.changed(examples.broker(), "/handling/audience", ["isa", "ibaraki-pp"]),
    examples.changed(examples.broker(), "/issued_at", "2026-11-25T10:00:00.123456789Z"),
]


def _publishers(record_type: str) -> list[str]:
    return sorted(a.id for a in DEMO_AGENCIES if a.kind in PUBLISHER_KINDS[record_type])


def _demo(record_type: str, count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    publishers = _publishers(record_type)
    return [
        make_envelope(record_type, publisher=rng.choice(publishers), rng=rng, now=NOW)
        for _ in range(count)
    ]


DEMO = {record_type: _demo(record_type, 300, seed) for seed, record_type in enumerate(RECORD_TYPES)}
BASES = HAND_WRITTEN + [e for record_type in RECORD_TYPES for e in DEMO[record_type][:40]]


def _containers(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        yield node
        for child in node.values():
            yield from _containers(child)
    elif isinstance(node, list):
        yield node
        for child in node:
            yield from _containers(child)


def _assert_same_answer(document: Any, *, json_native: bool = True) -> None:
    """The fast path and validate_envelope answer ``document`` as marshmallow does.

    For a JSON document the fast path must also accept whatever marshmallow accepts;
    otherwise it would be correct but useless.
    """
    fast = validate_envelope_fast(document)
    try:
        expected = validate_envelope_with_marshmallow(document)
    except SchemaInvalid as invalid:
        assert fast is None
        with pytest.raises(SchemaInvalid) as refused:
            validate_envelope(document)
        assert refused.value.errors == invalid.errors
        return
    except Exception as crash:
        # A rule that fails on its own input is marshmallow's to report (or fix): the fast
        # path must not turn it into an acceptance.
        assert fast is None
        with pytest.raises(type(crash)):
            validate_envelope(document)
        return
    if json_native:
        assert fast is not None
    if fast is not None:
        assert fast == expected == document
        # Same members in the same order, same types (True is not 1).
        assert repr(fast) == repr(expected)
        # Fresh containers, as marshmallow returns: changing the result changes no input.
        assert not {id(c) for c in _containers(fast)} & {id(c) for c in _containers(document)}
    assert repr(validate_envelope(document)) == repr(expected)


class TestValidEnvelopes:
    @pytest.mark.parametrize("index", range(len(HAND_WRITTEN)))
    def test_hand_written_examples_take_the_fast_path(self, index: int) -> None:
        document = HAND_WRITTEN[index]
        assert validate_envelope_fast(document) is not None
        _assert_same_answer(document)

    @pytest.mark.parametrize("record_type", RECORD_TYPES)
    def test_demo_envelopes_take_the_fast_path(self, record_type: str) -> None:
        for document in DEMO[record_type]:
            assert validate_envelope_fast(document) is not None
            _assert_same_answer(document)

    def test_valid_envelopes_use_every_member_of_every_schema(self) -> None:
        # Otherwise the two tests above could pass on records that leave part of a schema
        # out, and that part would never be shown to take the fast path.
        members = {("envelope", *path) for path in _schema_paths(EnvelopeSchema())} - {
            ("envelope", "payload")
        }
        for name, schema in PAYLOAD_SCHEMAS.items():
            members |= {(name, *path) for path in _schema_paths(schema())}
        used: set[tuple[str, ...]] = set()
        for document in HAND_WRITTEN + [d for documents in DEMO.values() for d in documents]:
            used |= {("envelope", *path) for path in _member_paths(document)}
            used |= {(document["schema"], *path) for path in _member_paths(document["payload"])}
        assert members <= used


def _schema_paths(schema: Schema, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The member names of ``schema`` and of its nested schemas, list items left out."""
    for name, field in schema.load_fields.items():
        path = (*prefix, field.data_key or name)
        yield path
        inner = field.inner if isinstance(field, fields.List) else field
        if isinstance(inner, fields.Nested):
            yield from _schema_paths(inner.schema, path)


def _member_paths(node: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The member names used in a document, list items left out."""
    if isinstance(node, dict):
        for key, child in node.items():
            yield (*prefix, key)
            yield from _member_paths(child, (*prefix, key))
    elif isinstance(node, list):
        for child in node:
            yield from _member_paths(child, prefix)


# Values that sit on the edges of the rules: every closed vocabulary, identifiers with and
# without valid check digits, dates and timestamps that do and do not exist, text that is
# one character too long or carries a control or bidirectional character.
_VOCABULARY = [
    *RECORD_TYPES,
    *PAYLOAD_SCHEMAS,
    *envelope.STATUSES,
    *envelope.RESTRICTIONS,
    *envelope.SOURCE_RELIABILITY,
    *envelope.INFORMATION_ACCURACY,
    *envelope.LINK_RELATIONS,
    *broker.BROKER_CATEGORIES,
    *broker.LICENCE_KINDS,
    *broker.PROGRAMMES,
    *broker.ALLEGATIONS,
    *broker.SOURCES,
    *broker.MEASURE_KINDS,
    *school.SCHOOL_STATUSES,
    *school.FINDINGS,
    *school.OFFENCE_CATEGORIES,
    *school.NONCONFORMITY_REASONS,
    *illegal_employment.INDUSTRIES,
    *illegal_employment.RESIDENCE_STATUSES,
    *illegal_employment.OFFENCES,
    *illegal_employment.DETECTIONS,
    *illegal_employment.ENFORCEMENT_KINDS,
]
_EDGE_STRINGS = [
    # ids and agencies
    "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
    "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5c",
    "0193A1B2-7C3D-7E4F-8A9B-0C1D2E3F4A5B",
    "00000000-0000-0000-0000-000000000000",
    "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b\n",
    "isa",
    "mofa",
    "ibaraki-pp",
    "Isa",
    "i",
    "a" * 32,
    "a" * 33,
    # codes
    "JP",
    "VN",
    "NP",
    "UK",
    "jp",
    "ZZ",
    "01",
    "13",
    "47",
    "48",
    "00",
    "1",
    "131016",
    "131017",
    "130001",
    "082341",
    "４０１１００１０９８９９３",
    "4011001098993",
    "5011001098993",
    "2120901007402",
    "401100109899",
    "許1713000123",
    "許171300012",
    "1713000123",
    # residence cards and their tokens
    examples.TOKEN,
    examples.OTHER_TOKEN,
    "rct1_" + "A" * 42 + "B",
    "rct1_" + "A" * 42,
    "rct1_" + "-_" * 21 + "A",
    "AB12345678CD",
    "ab 1234 5678 cd",
    "ＡＢ１２３４５６７８ＣＤ",
    # dates and times
    "2026-11-25",
    "2028-02-29",
    "2026-02-29",
    "2026-13-01",
    "20261125",
    "2026-W48",
    "2031-03-31",
    "2020-01-01",
    "2026-11-25T10:00:00Z",
    "2026-11-25T10:00:00.5Z",
    "2026-11-25T10:00:00.1234567890Z",
    "2026-11-25T24:00:00Z",
    "2026-11-25T10:00:60Z",
    "2026-11-25T10:00:00+09:00",
    "2026-11-25T10:00Z",
    "2026-11-25 10:00:00Z",
    # URLs
    "https://www.facebook.com/groups/1234567",
    "http://example.jp/job?id=1",
    "ftp://example.jp/job",
    "https://localhost/job",
    "https://example.jp/" + "x" * 2000,
    # text
    "",
    " ",
    "\u3000",
    "Name",
    " Name",
    "Name ",
    "Na\nme",
    "Na\tme",
    "Na\x00me",
    "Na\x85me",
    "Na\u2028me",
    "Na\u202eme",
    "Na\u2066me",
    "Na\ud800me",
    "Line one.\nLine two.",
    "\n",
    "協同組合アジア人材交流センター",
    "measure:146",
    "law:入管法62条2項",
]
_EDGE_LENGTHS = [64, 65, 100, 101, 200, 201, 300, 301, 2000, 2001, 10000, 10001]
_EDGE_INTEGERS = [-1, 0, 1, 2, 9, 38, 120, 1000, 1001, 10**6, 10**6 + 1, 2**31 - 1, 2**31, 2**53]

_strings = st.one_of(
    st.sampled_from(_VOCABULARY),
    st.sampled_from(_EDGE_STRINGS),
    st.builds(lambda n, c: c * n, st.sampled_from(_EDGE_LENGTHS), st.sampled_from("xあ \n")),
    st.text(max_size=12),
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(_EDGE_INTEGERS),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1.0, 0.0, 12.0]),
    _strings,
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(_strings, st.sampled_from(["from", "to", "id"])), inner),
    ),
    max_leaves=8,
)
_MEMBER_NAMES = sorted(
    {name for schema in PAYLOAD_SCHEMAS.values() for name in schema().fields}
    | {"reason", "links", "municipality", "prefecture", "tokens", "nationalities", "from"}
)


def _paths(node: Any, prefix: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """The path of every member and item below ``node``."""
    if isinstance(node, dict):
        for key, child in node.items():
            yield (*prefix, key)
            yield from _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield (*prefix, index)
            yield from _paths(child, (*prefix, index))


def _get(node: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        node = node[step]
    return node


# Near misses of a valid string or count: usually one rule broken, sometimes none.
_STRING_TWEAKS: list[Callable[[str], Any]] = [
    lambda value: value + " ",
    lambda value: " " + value,
    lambda value: value + "\n",
    lambda value: value[:-1],
    lambda value: value + value[-1:],
    lambda value: value.upper(),
    lambda value: value.lower(),
    lambda value: value + "\u202e",
    lambda value: value * 200,
    lambda value: value.replace("1", "2", 1),
    lambda value: value.replace("0", "９", 1),
    lambda value: value[::-1],
]
_NUMBER_TWEAKS: list[Callable[[int], Any]] = [
    lambda value: value + 1,
    lambda value: value - 1,
    lambda value: -value,
    lambda value: 0,
    lambda value: value * 1000,
    float,
    str,
    lambda value: True,
]


def _mutate(document: dict[str, Any], data: st.DataObject) -> None:
    """One change of ``document`` in place, somewhere in it."""
    paths = list(_paths(document))
    path = data.draw(st.sampled_from(paths), label="path")
    parent = _get(document, path[:-1])
    key = path[-1]
    current = parent[key]
    action = data.draw(
        st.sampled_from(
            ["delete", "replace", "add", "duplicate", "transplant", "tweak", "tweak", "tweak"]
        ),
        label="action",
    )
    if action == "delete":
        del parent[key]
    elif action == "replace":
        parent[key] = data.draw(_values, label="value")
    elif action == "add":
        target = current if isinstance(current, dict) else parent
        if isinstance(target, dict):
            name = data.draw(st.one_of(st.sampled_from(_MEMBER_NAMES), _strings), label="member")
            target[name] = data.draw(_values, label="value")
        else:
            target.append(data.draw(_values, label="item"))
    elif action == "duplicate":
        if isinstance(current, list) and current:
            current.append(copy.deepcopy(data.draw(st.sampled_from(current), label="item")))
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(current))
    elif action == "transplant":
        # The value another valid record has at the same place: a change a real publisher
        # makes, which moves the cross-field rules (country JP, finding, offences, type).
        donors = [b for b in BASES if _has(b, path)]
        if donors:
            donor = data.draw(st.sampled_from(donors), label="donor")
            parent[key] = copy.deepcopy(_get(donor, path))
    elif isinstance(current, str):
        parent[key] = data.draw(st.sampled_from(_STRING_TWEAKS), label="tweak")(current)
    elif type(current) is int:
        parent[key] = data.draw(st.sampled_from(_NUMBER_TWEAKS), label="tweak")(current)
    else:
        parent[key] = data.draw(_values, label="value")


def _has(document: Any, path: tuple[str | int, ...]) -> bool:
    node = document
    for step in path:
        in_object = isinstance(node, dict) and isinstance(step, str) and step in node
        in_array = isinstance(node, list) and isinstance(step, int) and step < len(node)
        if not (in_object or in_array):
            return False
        node = node[step]
    return True


class TestBrokenEnvelopes:
    @settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        base=st.sampled_from(BASES),
        changes=st.integers(min_value=1, max_value=3),
        data=st.data(),
    )
    def test_same_answer_as_marshmallow(
        self, base: dict[str, Any], changes: int, data: st.DataObject
    ) -> None:
        document = copy.deepcopy(base)
        for _ in range(changes):
            if not document:
                break
            _mutate(document, data)
        _assert_same_answer(document)

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(base=st.sampled_from(BASES), data=st.data())
    def test_same_answer_for_one_value_anywhere(
        self, base: dict[str, Any], data: st.DataObject
    ) -> None:
        document = copy.deepcopy(base)
        path = data.draw(st.sampled_from(list(_paths(document))), label="path")
        _get(document, path[:-1])[path[-1]] = data.draw(_values, label="value")
        _assert_same_answer(document)

    @settings(max_examples=100, deadline=None)
    @given(document=_values)
    def test_same_answer_for_anything_at_all(self, document: Any) -> None:
        _assert_same_answer(document)

    @pytest.mark.parametrize(
        ("pointer", "value"),
        [
            ("/payload/country", "JP"),
            ("/payload/corporate_number", "4011001098993"),
            ("/status", "withdrawn"),
            ("/reason", "Duplicate."),
            ("/schema", "school/1"),
            ("/handling/retention_until", "2026-11-24"),
            ("/handling/retention_until", "2026-11-25"),
            ("/links/0/id", "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"),
            ("/handling/audience", ["isa", "isa"]),
            ("/handling/audience", []),
            ("/handling/legal_basis", ["x"] * 21),
            ("/payload/aliases", ["HBM", "HBM"]),
            ("/payload/licences/0/kind", "supervising_organisation"),
            ("/payload/address", {}),
            ("/payload/address", {"municipality": "131016"}),
            ("/payload/period", {"from": "2026-01-02", "to": "2026-01-01"}),
            ("/payload/period", {"from": "2026-01-01", "to": "2026-01-01"}),
            ("/payload/measures/0/reference", None),
            ("/version", 2**31),
            ("/version", True),
            ("/version", 1.0),
        ],
    )
    def test_cross_field_and_boundary_cases(self, pointer: str, value: Any) -> None:
        _assert_same_answer(examples.changed(examples.broker(), pointer, value))

    @pytest.mark.parametrize(
        ("pointer", "value"),
        [
            ("/payload/workers/nationalities/1/country", "VN"),
            ("/payload/workers/nationalities/0/count", 11),
            ("/payload/workers/overstay_count", 13),
            ("/payload/forged_cards/count", 1),
            ("/payload/forged_cards/tokens", [examples.TOKEN, examples.TOKEN]),
            ("/payload/forged_cards/tokens/0", "AB12345678CD"),
            ("/payload/offences", ["illegal_work"]),
            ("/payload/online_adverts", []),
            ("/payload/online_adverts/0/url", "https://example"),
            ("/payload/employer/municipality", "131016"),
            ("/payload/brokers/0/broker_record_id", None),
        ],
    )
    def test_illegal_employment_cases(self, pointer: str, value: Any) -> None:
        _assert_same_answer(examples.changed(examples.illegal_employment(), pointer, value))

    @pytest.mark.parametrize(
        ("pointer", "value"),
        [
            ("/payload/finding", "visa_screening_nonconformity"),
            ("/payload/arrest/residence_card_token", "AB12345678CD"),
            ("/payload/arrest/residence_card_token", "rct1_" + "A" * 42 + "B"),
            ("/payload/school/municipality", "271004"),
        ],
    )
    def test_school_arrest_cases(self, pointer: str, value: Any) -> None:
        _assert_same_answer(examples.changed(examples.school_arrest(), pointer, value))

    @pytest.mark.parametrize(
        ("pointer", "value"),
        [
            ("/payload/visa_screening/consulate_country", "JP"),
            ("/payload/visa_screening/nonconforming", 121),
            ("/payload/visa_screening/nonconforming", 120),
            ("/payload/visa_screening/applicants_screened", 0),
            ("/payload/arrest", examples.school_arrest()["payload"]["arrest"]),
        ],
    )
    def test_school_visa_screening_cases(self, pointer: str, value: Any) -> None:
        _assert_same_answer(examples.changed(examples.school_visa_screening(), pointer, value))


class _Number(IntEnum):
    ONE = 1


class _Name(str):
    """A str that is not exactly str: only JSON's own types take the fast path."""


class _ShoutedText(Text):
    """A Text whose rules the fast path cannot know."""


class TestValuesJsonCannotCarry:
    """Python callers can pass what no JSON parser makes; the fast path leaves them all to
    marshmallow, whatever marshmallow then decides."""

    @pytest.mark.parametrize(
        "document",
        [
            MappingProxyType(examples.broker()),
            OrderedDict(examples.broker()),
            examples.changed(examples.broker(), "/payload", MappingProxyType({})),
            examples.changed(examples.broker(), "/payload/programmes", ("technical_intern",)),
            examples.changed(examples.broker(), "/payload/name", _Name("Hoa Binh")),
            examples.changed(examples.broker(), "/type", _Name("broker")),
            examples.changed(examples.broker(), "/version", _Number.ONE),
            examples.changed(examples.broker(), "/payload/name", b"Hoa Binh"),
        ],
    )
    def test_left_to_marshmallow(self, document: Any) -> None:
        assert validate_envelope_fast(document) is None
        _assert_same_answer(document, json_native=False)


class TestUnknownConstructsFailSafe:
    """What the fast path does not recognise exactly, it never accepts."""

    def test_a_schema_with_a_load_hook(self) -> None:
        class Tagged(EnvelopeSchema):
            @post_load
            def tag(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
                return {**data, "tagged": True}

        fast = envelope_validator(Tagged(), {n: s() for n, s in PAYLOAD_SCHEMAS.items()})
        assert fast(examples.broker()) is None

    def test_a_schema_that_drops_unknown_members(self) -> None:
        class Lenient(broker.BrokerPayloadSchema):
            class Meta:
                unknown = EXCLUDE

        fast = envelope_validator(EnvelopeSchema(), {"broker/1": Lenient()})
        assert fast(examples.broker()) is None

    @pytest.mark.parametrize(
        "field",
        [
            fields.String(),
            fields.Integer(),
            _ShoutedText("A subclass may change the rule.", max_length=10),
            Text("A validator of its own.", max_length=10, validate=lambda value: True),
            Text("A default.", max_length=10, load_default="x"),
        ],
    )
    def test_a_field_it_does_not_know(self, field: fields.Field[Any]) -> None:
        extended = type("Extended", (broker.BrokerPayloadSchema,), {"extra": field})
        fast = envelope_validator(EnvelopeSchema(), {"broker/1": extended()})
        assert fast(examples.broker()) is None
