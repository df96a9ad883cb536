from __future__ import annotations

from typing import Any

import pytest

from schemas import validate_envelope
from tests.schemas import examples
from tests.schemas.examples import DELETE, changed, errors_of, pointers_of


class TestBrokerPayload:
    def test_foreign_broker_is_valid(self) -> None:
        envelope = examples.broker()
        assert validate_envelope(envelope) == envelope

    def test_domestic_broker_is_valid(self) -> None:
        envelope = examples.domestic_broker()
        assert validate_envelope(envelope) == envelope

    def test_minimal_foreign_broker_is_valid(self) -> None:
        payload = {
            "name": "Himalaya Manpower Pvt. Ltd.",
            "category": "sending_organisation",
            "country": "NP",
            "programmes": ["specified_skilled_worker"],
            "allegations": ["excessive_fees"],
            "sources": ["visa_screening"],
        }
        envelope = {**examples.broker(), "payload": payload}
        assert validate_envelope(envelope) == envelope

    @pytest.mark.parametrize(
        ("pointer", "value", "expected"),
        [
            ("/payload/name", DELETE, "/payload/name"),
            ("/payload/name", "", "/payload/name"),
            ("/payload/name", "x" * 301, "/payload/name"),
            ("/payload/name", " Hoa Binh", "/payload/name"),
            ("/payload/name", "Hoa\nBinh", "/payload/name"),
            ("/payload/name", "Hoa\u202eBinh", "/payload/name"),
            ("/payload/name", "Hoa\x00Binh", "/payload/name"),
            ("/payload/name", 42, "/payload/name"),
            ("/payload/name", None, "/payload/name"),
            ("/payload/aliases", ["HBM", "HBM"], "/payload/aliases"),
            ("/payload/aliases", "HBM", "/payload/aliases"),
            ("/payload/aliases/1", "", "/payload/aliases/1"),
            ("/payload/category", "recruiter", "/payload/category"),
            ("/payload/country", "XX", "/payload/country"),
            ("/payload/country", "vn", "/payload/country"),
            ("/payload/country", DELETE, "/payload/country"),
            ("/payload/corporate_number", "4011001098994", "/payload/corporate_number"),
            ("/payload/corporate_number", "4011001098993", "/payload/corporate_number"),
            ("/payload/licences/0/kind", "national", "/payload/licences/0/kind"),
            ("/payload/licences/0/kind", "supervising_organisation", "/payload/licences/0/number"),
            ("/payload/licences/0/number", DELETE, "/payload/licences/0/number"),
            ("/payload/address/prefecture", "13", "/payload/address/prefecture"),
            ("/payload/address", {}, "/payload/address"),
            ("/payload/programmes", [], "/payload/programmes"),
            ("/payload/programmes", ["student", "student"], "/payload/programmes"),
            ("/payload/programmes/0", "intern", "/payload/programmes/0"),
            ("/payload/allegations", [], "/payload/allegations"),
            ("/payload/allegations", DELETE, "/payload/allegations"),
            ("/payload/allegations/1", "fraud", "/payload/allegations/1"),
            ("/payload/sources", [], "/payload/sources"),
            ("/payload/period/from", "2026-01-01", "/payload/period/to"),
            ("/payload/period/to", DELETE, "/payload/period/to"),
            ("/payload/period/from", "2024-4-1", "/payload/period/from"),
            ("/payload/period/until", "2025-01-01", "/payload/period/until"),
            ("/payload/measures/1/date", "2025-11-31", "/payload/measures/1/date"),
            ("/payload/measures/1/date", DELETE, "/payload/measures/1/date"),
            ("/payload/measures/0/kind", "fine", "/payload/measures/0/kind"),
            ("/payload/measures/0/authority", "", "/payload/measures/0/authority"),
            ("/payload/narrative", "x" * 10_001, "/payload/narrative"),
            ("/payload/narrative", "   ", "/payload/narrative"),
            ("/payload/narrative", "bell\x07", "/payload/narrative"),
            ("/payload/student_name", "Nguyen Van A", "/payload/student_name"),
        ],
    )
    def test_invalid_foreign_broker(self, pointer: str, value: Any, expected: str) -> None:
        assert pointers_of(changed(examples.broker(), pointer, value)) == {expected}

    @pytest.mark.parametrize(
        ("pointer", "value", "expected"),
        [
            ("/payload/corporate_number", "4011001098994", "/payload/corporate_number"),
            ("/payload/licences/0/number", "許171300012", "/payload/licences/0/number"),
            ("/payload/licences/0/number", "許１７１３０００１２３", "/payload/licences/0/number"),
            ("/payload/address", DELETE, "/payload/address"),
            ("/payload/address/prefecture", DELETE, "/payload/address/prefecture"),
            ("/payload/address/prefecture", "48", "/payload/address/prefecture"),
            ("/payload/address/prefecture", "27", "/payload/address/municipality"),
            ("/payload/address/municipality", "131017", "/payload/address/municipality"),
        ],
    )
    def test_invalid_domestic_broker(self, pointer: str, value: Any, expected: str) -> None:
        assert pointers_of(changed(examples.domestic_broker(), pointer, value)) == {expected}

    def test_corporate_numbers_are_for_japanese_entities(self) -> None:
        envelope = changed(examples.broker(), "/payload/corporate_number", "4011001098993")
        [error] = errors_of(envelope)
        assert "JP" in error.detail

    def test_japanese_licences_are_for_japanese_entities(self) -> None:
        envelope = changed(examples.domestic_broker(), "/payload/country", "VN")
        assert pointers_of(envelope) == {
            "/payload/corporate_number",
            "/payload/licences/0/kind",
            "/payload/address/prefecture",
            "/payload/address/municipality",
        }

    def test_both_period_dates_may_be_the_same_day(self) -> None:
        envelope = changed(examples.broker(), "/payload/period/from", "2025-09-30")
        assert validate_envelope(envelope) == envelope
