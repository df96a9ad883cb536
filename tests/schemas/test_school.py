from __future__ import annotations

from typing import Any

import pytest

from schemas import validate_envelope
from tests.schemas import examples
from tests.schemas.examples import DELETE, changed, errors_of, pointers_of


class TestSchoolPayload:
    @pytest.mark.parametrize("example", [examples.school_arrest, examples.school_visa_screening])
    def test_valid_examples(self, example: Any) -> None:
        envelope = example()
        assert validate_envelope(envelope) == envelope

    @pytest.mark.parametrize(
        ("pointer", "value", "expected"),
        [
            ("/payload/school", DELETE, "/payload/school"),
            ("/payload/school/name", DELETE, "/payload/school/name"),
            ("/payload/school/prefecture", DELETE, "/payload/school/prefecture"),
            ("/payload/school/prefecture", "27", "/payload/school/municipality"),
            ("/payload/school/municipality", "131042", "/payload/school/municipality"),
            (
                "/payload/school/operator_corporate_number",
                "2120901007403",
                "/payload/school/operator_corporate_number",
            ),
            ("/payload/school/status", "licensed", "/payload/school/status"),
            ("/payload/finding", "expelled", "/payload/finding"),
            ("/payload/arrest", DELETE, "/payload/arrest"),
            ("/payload/arrest/nationality", "UK", "/payload/arrest/nationality"),
            ("/payload/arrest/arrest_date", "2026-11-31", "/payload/arrest/arrest_date"),
            ("/payload/arrest/offence_category", "murder", "/payload/arrest/offence_category"),
            ("/payload/arrest/arresting_agency", "MPD", "/payload/arrest/arresting_agency"),
            ("/payload/arrest/case_reference", DELETE, "/payload/arrest/case_reference"),
            ("/payload/arrest/student_name", "Nguyen Van A", "/payload/arrest/student_name"),
            ("/payload/arrest/name", "Nguyen Van A", "/payload/arrest/name"),
            (
                "/payload/arrest/residence_card_token",
                "rct1_short",
                "/payload/arrest/residence_card_token",
            ),
        ],
    )
    def test_invalid_arrest_record(self, pointer: str, value: Any, expected: str) -> None:
        assert pointers_of(changed(examples.school_arrest(), pointer, value)) == {expected}

    @pytest.mark.parametrize(
        "number", ["AB12345678CD", "ab 1234 5678 cd", "ＡＢ１２３４５６７８ＣＤ"]
    )
    def test_a_raw_residence_card_number_gets_a_clear_error(self, number: str) -> None:
        envelope = changed(examples.school_arrest(), "/payload/arrest/residence_card_token", number)
        [error] = errors_of(envelope)
        assert error.pointer == "/payload/arrest/residence_card_token"
        assert "raw residence card number" in error.detail
        assert number not in error.detail

    @pytest.mark.parametrize(
        ("pointer", "value", "expected"),
        [
            ("/payload/visa_screening", DELETE, "/payload/visa_screening"),
            (
                "/payload/visa_screening/consulate_country",
                "JP",
                "/payload/visa_screening/consulate_country",
            ),
            ("/payload/visa_screening/period", DELETE, "/payload/visa_screening/period"),
            (
                "/payload/visa_screening/period/to",
                "2026-03-31",
                "/payload/visa_screening/period/to",
            ),
            (
                "/payload/visa_screening/applicants_screened",
                0,
                "/payload/visa_screening/applicants_screened",
            ),
            ("/payload/visa_screening/nonconforming", -1, "/payload/visa_screening/nonconforming"),
            ("/payload/visa_screening/nonconforming", 121, "/payload/visa_screening/nonconforming"),
            ("/payload/visa_screening/nonconforming", 3.5, "/payload/visa_screening/nonconforming"),
            ("/payload/visa_screening/reasons", [], "/payload/visa_screening/reasons"),
            ("/payload/visa_screening/reasons/0", "rude", "/payload/visa_screening/reasons/0"),
        ],
    )
    def test_invalid_visa_screening_record(self, pointer: str, value: Any, expected: str) -> None:
        assert pointers_of(changed(examples.school_visa_screening(), pointer, value)) == {expected}

    def test_nonconforming_may_equal_screened(self) -> None:
        envelope = changed(
            examples.school_visa_screening(), "/payload/visa_screening/nonconforming", 120
        )
        assert validate_envelope(envelope) == envelope

    def test_arrest_is_forbidden_with_a_visa_finding(self) -> None:
        envelope = examples.school_visa_screening()
        envelope["payload"]["arrest"] = examples.school_arrest()["payload"]["arrest"]
        assert pointers_of(envelope) == {"/payload/arrest"}

    def test_visa_screening_is_forbidden_with_an_arrest_finding(self) -> None:
        envelope = examples.school_arrest()
        envelope["payload"]["visa_screening"] = examples.school_visa_screening()["payload"][
            "visa_screening"
        ]
        assert pointers_of(envelope) == {"/payload/visa_screening"}

    def test_the_finding_decides_which_block_is_required(self) -> None:
        envelope = changed(
            examples.school_arrest(), "/payload/finding", "visa_screening_nonconformity"
        )
        assert pointers_of(envelope) == {"/payload/arrest", "/payload/visa_screening"}
