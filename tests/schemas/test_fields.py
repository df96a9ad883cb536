"""The text and format rules every field shares."""

from __future__ import annotations

import pytest

from schemas.fields import is_date, is_utc_timestamp
from tests.schemas import examples
from tests.schemas.examples import changed, pointers_of


class TestText:
    @pytest.mark.parametrize(
        "name",
        [
            "ရွှေပြည် ပြည်ပအလုပ်အကိုင်ရှာဖွေရေး အေဂျင်စီ",
            "سندھ اوورسیز ایمپلائمنٹ",
            "協同組合　アジア人材",  # an ideographic space inside a name
            "x" * 300,
        ],
    )
    def test_names_in_any_script_are_accepted(self, name: str) -> None:
        assert not _errors_for_name(name)

    @pytest.mark.parametrize(
        "name",
        [
            "tab\there",
            "line\u2028separator",
            "right-to-left\u202eoverride",
            "isolate\u2066x\u2069",
            "lone surrogate \ud800",
            "C1 \x85 control",
            "trailing ",
            "\u3000leading ideographic space",
        ],
    )
    def test_control_and_formatting_characters_are_refused(self, name: str) -> None:
        assert _errors_for_name(name) == {"/payload/name"}

    def test_narrative_may_break_lines(self) -> None:
        envelope = changed(examples.broker(), "/payload/narrative", "First.\r\n\tSecond.")
        assert not pointers_of(envelope)


class TestDateAndTimestamp:
    @pytest.mark.parametrize("value", ["2024-02-29", "2026-12-31", "0001-01-01"])
    def test_valid_dates(self, value: str) -> None:
        assert is_date(value)

    @pytest.mark.parametrize(
        "value", ["2025-02-29", "2026-13-01", "2026-1-01", "20260101", "2026-W01", "２０２６-01-01"]
    )
    def test_invalid_dates(self, value: str) -> None:
        assert not is_date(value)

    @pytest.mark.parametrize(
        "value", ["2026-11-25T10:00:00Z", "2026-11-25T23:59:59.5Z", "2026-11-25T00:00:00.000001Z"]
    )
    def test_valid_timestamps(self, value: str) -> None:
        assert is_utc_timestamp(value)

    @pytest.mark.parametrize(
        "value",
        [
            "2026-11-25T10:00:00",
            "2026-11-25T10:00:00+00:00",
            "2026-11-25 10:00:00Z",
            "2026-11-25T10:00:60Z",
            "2026-11-25T10:60:00Z",
            "2026-11-25T10:00:00.Z",
            "2026-11-25T10:00:00Z\n",
        ],
    )
    def test_invalid_timestamps(self, value: str) -> None:
        assert not is_utc_timestamp(value)


def _errors_for_name(name: str) -> set[str]:
    return pointers_of(changed(examples.broker(), "/payload/name", name))
