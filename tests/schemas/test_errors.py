from __future__ import annotations

from schemas import FieldError, SchemaInvalid, errors_from_marshmallow


class TestErrorsFromMarshmallow:
    def test_nested_messages_become_pointers(self) -> None:
        messages = {
            "payload": {
                "measures": {1: {"date": ["Not a valid date."]}},
                "allegations": ["Too short.", "Also wrong."],
            },
            "version": ["Not a valid integer."],
        }
        assert sorted(errors_from_marshmallow(messages), key=lambda e: (e.pointer, e.detail)) == [
            FieldError("/payload/allegations", "Also wrong."),
            FieldError("/payload/allegations", "Too short."),
            FieldError("/payload/measures/1/date", "Not a valid date."),
            FieldError("/version", "Not a valid integer."),
        ]

    def test_whole_object_errors_point_at_the_object(self) -> None:
        messages = {"address": {"_schema": ["Give a prefecture."]}}
        assert errors_from_marshmallow(messages, "/payload") == [
            FieldError("/payload/address", "Give a prefecture.")
        ]

    def test_tokens_are_escaped_per_rfc_6901(self) -> None:
        messages = {"a/b": {"m~n": ["Unknown field."]}}
        assert errors_from_marshmallow(messages) == [FieldError("/a~1b/m~0n", "Unknown field.")]

    def test_a_bare_message(self) -> None:
        assert errors_from_marshmallow("Invalid input.", "/payload") == [
            FieldError("/payload", "Invalid input.")
        ]


class TestSchemaInvalid:
    def test_errors_are_sorted_by_pointer(self) -> None:
        invalid = SchemaInvalid([FieldError("/version", "b"), FieldError("/id", "a")])
        assert [error.pointer for error in invalid.errors] == ["/id", "/version"]
        assert invalid.code == "schema_invalid"

    def test_message_does_not_echo_input(self) -> None:
        invalid = SchemaInvalid([FieldError("/payload/name", "Must not be blank.")])
        assert str(invalid) == "1 invalid field"


class TestCrossFieldErrorsAtOnePlace:
    def test_errors_inside_and_about_a_member_are_both_reported(self) -> None:
        from schemas import SchemaInvalid, validate_envelope
        from tests.schemas import examples

        envelope = examples.illegal_employment()
        envelope["payload"]["workers"]["nationalities"] = [{"country": "VN", "count": 9}] * 2
        try:
            validate_envelope(envelope)
        except SchemaInvalid as invalid:
            pointers = {error.pointer for error in invalid.errors}
        else:
            raise AssertionError("accepted")
        assert "/payload/workers/nationalities" in pointers
        assert any(p.startswith("/payload/workers/nationalities/") for p in pointers)
