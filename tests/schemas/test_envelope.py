from __future__ import annotations

import json
from typing import Any

import pytest

from schemas import SCHEMA_NAMES, SchemaInvalid, validate_envelope
from tests.schemas import examples
from tests.schemas.examples import DELETE, changed, errors_of, pointers_of

ALL_EXAMPLES = {
    "broker": examples.broker,
    "domestic_broker": examples.domestic_broker,
    "school_arrest": examples.school_arrest,
    "school_visa_screening": examples.school_visa_screening,
    "illegal_employment": examples.illegal_employment,
}


class TestValidEnvelopes:
    @pytest.mark.parametrize("name", sorted(ALL_EXAMPLES))
    def test_valid_examples_come_back_json_equal(self, name: str) -> None:
        envelope = ALL_EXAMPLES[name]()
        validated = validate_envelope(envelope)
        assert validated == envelope
        # Dates, timestamps and ids stay strings: the signature covers these exact bytes.
        assert json.dumps(validated, sort_keys=True) == json.dumps(envelope, sort_keys=True)

    def test_input_is_not_modified(self) -> None:
        envelope = examples.broker()
        validate_envelope(envelope)
        assert envelope == examples.broker()

    def test_withdrawal_with_reason(self) -> None:
        envelope = {
            **examples.broker(),
            "version": 2,
            "status": "withdrawn",
            "reason": "Duplicate.",
        }
        assert validate_envelope(envelope) == envelope

    def test_fractional_seconds_are_accepted(self) -> None:
        envelope = changed(examples.broker(), "/issued_at", "2026-11-25T10:00:00.123456789Z")
        assert validate_envelope(envelope) == envelope

    def test_audience_may_name_agencies(self) -> None:
        envelope = changed(examples.broker(), "/handling/audience", ["isa", "ibaraki-pp"])
        assert validate_envelope(envelope) == envelope


class TestInvalidEnvelopes:
    @pytest.mark.parametrize(
        ("pointer", "value", "expected"),
        [
            ("/id", "0193A1B2-7C3D-7E4F-8A9B-0C1D2E3F4A5B", "/id"),
            ("/id", "not-a-uuid", "/id"),
            ("/id", DELETE, "/id"),
            ("/type", "person", "/type"),
            ("/schema", "broker/2", "/schema"),
            ("/version", True, "/version"),
            ("/version", 0, "/version"),
            ("/version", 1.0, "/version"),
            ("/version", "1", "/version"),
            ("/version", 2**53, "/version"),
            ("/status", "deleted", "/status"),
            ("/reason", "Not withdrawn.", "/reason"),
            ("/publisher", "ISA", "/publisher"),
            ("/publisher", "i", "/publisher"),
            ("/issued_at", "2026-11-25T10:00:00+09:00", "/issued_at"),
            ("/issued_at", "2026-11-25T10:00Z", "/issued_at"),
            ("/issued_at", "2026-11-25", "/issued_at"),
            ("/issued_at", "2026-02-30T10:00:00Z", "/issued_at"),
            ("/issued_at", "2026-11-25T24:00:00Z", "/issued_at"),
            ("/issued_at", "2026-11-25t10:00:00z", "/issued_at"),
            ("/handling", DELETE, "/handling"),
            ("/handling/audience", [], "/handling/audience"),
            ("/handling/audience", ["isa", "isa"], "/handling/audience"),
            ("/handling/audience", ["Immigration"], "/handling/audience/0"),
            ("/handling/audience", DELETE, "/handling/audience"),
            ("/handling/restrictions", ["no_sharing"], "/handling/restrictions/0"),
            ("/handling/restrictions", DELETE, "/handling/restrictions"),
            ("/handling/legal_basis", [], "/handling/legal_basis"),
            ("/handling/legal_basis", ["x" * 201], "/handling/legal_basis/0"),
            ("/handling/retention_until", "2031-3-31", "/handling/retention_until"),
            ("/handling/retention_until", "20310331", "/handling/retention_until"),
            ("/handling/retention_until", "2026-11-24", "/handling/retention_until"),
            ("/evaluation/source", "D", "/evaluation/source"),
            ("/evaluation/information", 2, "/evaluation/information"),
            ("/evaluation/information", "5", "/evaluation/information"),
            ("/payload", [], "/payload"),
            ("/payload", DELETE, "/payload"),
            ("/links/0/rel", "parent", "/links/0/rel"),
            ("/links/0/id", "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b", "/links/0/id"),
            ("/links", [{"rel": "broker"}], "/links/0/id"),
        ],
    )
    def test_invalid_member_is_reported_at_its_pointer(
        self, pointer: str, value: Any, expected: str
    ) -> None:
        assert pointers_of(changed(examples.broker(), pointer, value)) == {expected}

    @pytest.mark.parametrize("data", [None, [], "{}", 1])
    def test_not_an_object(self, data: object) -> None:
        with pytest.raises(SchemaInvalid) as raised:
            validate_envelope(data)
        assert [error.pointer for error in raised.value.errors] == [""]

    def test_withdrawal_needs_a_reason(self) -> None:
        envelope = {**examples.broker(), "version": 2, "status": "withdrawn"}
        [error] = errors_of(envelope)
        assert error.pointer == "/reason"
        assert "withdrawn" in error.detail

    def test_bool_is_not_a_version(self) -> None:
        [error] = errors_of(changed(examples.broker(), "/version", True))
        assert error.pointer == "/version"

    def test_schema_must_match_type(self) -> None:
        envelope = changed(examples.broker(), "/type", "school")
        [error] = errors_of(envelope)
        assert error.pointer == "/schema"
        assert SCHEMA_NAMES["school"] in error.detail

    @pytest.mark.parametrize(
        "pointer",
        ["/extra", "/handling/extra", "/evaluation/extra", "/links/0/extra", "/payload/extra"],
    )
    def test_unknown_members_are_rejected(self, pointer: str) -> None:
        assert pointers_of(changed(examples.broker(), pointer, 1)) == {pointer}

    def test_member_names_are_escaped_per_rfc_6901(self) -> None:
        envelope = changed(examples.broker(), "/payload/a~1b~0c", 1)
        assert pointers_of(envelope) == {"/payload/a~1b~0c"}

    def test_every_error_is_reported_at_once_in_pointer_order(self) -> None:
        envelope = examples.broker()
        envelope["version"] = True
        envelope["status"] = "withdrawn"
        envelope["handling"]["legal_basis"] = []
        envelope["payload"]["allegations"] = []
        envelope["payload"]["corporate_number"] = "4011001098994"
        envelope["payload"]["measures"][1]["date"] = "2025-13-01"
        errors = errors_of(envelope)
        assert [error.pointer for error in errors] == [
            "/handling/legal_basis",
            "/payload/allegations",
            "/payload/corporate_number",
            "/payload/measures/1/date",
            "/reason",
            "/version",
        ]

    def test_payload_is_checked_under_the_named_schema(self) -> None:
        envelope = {**examples.broker(), "payload": examples.school_arrest()["payload"]}
        assert "/payload/school" in pointers_of(envelope)

    def test_an_oversized_list_is_refused_before_its_items(self) -> None:
        envelope = changed(examples.broker(), "/links", [{"x": i} for i in range(10_000)])
        assert pointers_of(envelope) == {"/links"}
