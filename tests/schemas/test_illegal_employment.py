from __future__ import annotations

from typing import Any

import pytest

from schemas import validate_envelope
from tests.schemas import examples
from tests.schemas.examples import DELETE, TOKEN, changed, pointers_of


class TestIllegalEmploymentPayload:
    def test_valid_example(self) -> None:
        envelope = examples.illegal_employment()
        assert validate_envelope(envelope) == envelope

    def test_minimal_record_is_valid(self) -> None:
        payload = {
            "employer": {
                "name": "有限会社坂東ファーム",
                "prefecture": "08",
                "industry": "agriculture",
            },
            "workers": {
                "count": 3,
                "nationalities": [{"country": "VN", "count": 3}],
                "residence_statuses": ["technical_intern_training"],
                "overstay_count": 0,
                "unauthorised_activity_count": 0,
            },
            "offences": ["illegal_work"],
            "detection": "inspection",
            "detected_on": "2026-09-15",
        }
        envelope = {**examples.illegal_employment(), "payload": payload}
        del envelope["links"]
        assert validate_envelope(envelope) == envelope

    @pytest.mark.parametrize(
        ("pointer", "value", "expected"),
        [
            ("/payload/employer/name", DELETE, "/payload/employer/name"),
            (
                "/payload/employer/corporate_number",
                "7123456789013",
                "/payload/employer/corporate_number",
            ),
            ("/payload/employer/prefecture", DELETE, "/payload/employer/prefecture"),
            ("/payload/employer/prefecture", "12", "/payload/employer/municipality"),
            ("/payload/employer/municipality", "082342", "/payload/employer/municipality"),
            ("/payload/employer/industry", "mining", "/payload/employer/industry"),
            (
                "/payload/brokers/0/broker_record_id",
                "hoa-binh",
                "/payload/brokers/0/broker_record_id",
            ),
            ("/payload/brokers/1/name", DELETE, "/payload/brokers/1/name"),
            ("/payload/workers/count", 0, "/payload/workers/count"),
            ("/payload/workers/count", 10, "/payload/workers/nationalities"),
            ("/payload/workers/count", False, "/payload/workers/count"),
            ("/payload/workers/nationalities", [], "/payload/workers/nationalities"),
            (
                "/payload/workers/nationalities/1/country",
                "VN",
                "/payload/workers/nationalities/1/country",
            ),
            ("/payload/workers/nationalities/1/count", 0, "/payload/workers/nationalities/1/count"),
            (
                "/payload/workers/residence_statuses/0",
                "trainee",
                "/payload/workers/residence_statuses/0",
            ),
            (
                "/payload/workers/residence_statuses",
                ["none", "none"],
                "/payload/workers/residence_statuses",
            ),
            ("/payload/workers/overstay_count", 13, "/payload/workers/overstay_count"),
            ("/payload/workers/overstay_count", DELETE, "/payload/workers/overstay_count"),
            (
                "/payload/workers/unauthorised_activity_count",
                13,
                "/payload/workers/unauthorised_activity_count",
            ),
            ("/payload/offences", [], "/payload/offences"),
            ("/payload/offences/0", "facilitation", "/payload/offences/0"),
            ("/payload/offences", ["illegal_work"], "/payload/forged_cards"),
            ("/payload/forged_cards", DELETE, "/payload/forged_cards"),
            ("/payload/forged_cards/count", 1, "/payload/forged_cards/tokens"),
            ("/payload/forged_cards/tokens", [TOKEN, TOKEN], "/payload/forged_cards/tokens"),
            ("/payload/forged_cards/tokens/1", "AB12345678CD", "/payload/forged_cards/tokens/1"),
            ("/payload/detection", "rumour", "/payload/detection"),
            ("/payload/online_adverts", DELETE, "/payload/online_adverts"),
            ("/payload/online_adverts", [], "/payload/online_adverts"),
            (
                "/payload/online_adverts/0/url",
                "ftp://example.com/ad",
                "/payload/online_adverts/0/url",
            ),
            (
                "/payload/online_adverts/0/url",
                "javascript:alert(1)",
                "/payload/online_adverts/0/url",
            ),
            ("/payload/online_adverts/0/url", "/groups/1234567", "/payload/online_adverts/0/url"),
            (
                "/payload/online_adverts/0/url",
                "https://example.com/" + "a" * 2000,
                "/payload/online_adverts/0/url",
            ),
            (
                "/payload/online_adverts/0/observed_on",
                "yesterday",
                "/payload/online_adverts/0/observed_on",
            ),
            ("/payload/period/to", "2025-09-30", "/payload/period/to"),
            ("/payload/detected_on", DELETE, "/payload/detected_on"),
            ("/payload/enforcement/1/kind", "fine", "/payload/enforcement/1/kind"),
            ("/payload/enforcement/1/date", "2026-10-32", "/payload/enforcement/1/date"),
            ("/payload/workers/names", ["Nguyen Van A"], "/payload/workers/names"),
        ],
    )
    def test_invalid_member(self, pointer: str, value: Any, expected: str) -> None:
        assert pointers_of(changed(examples.illegal_employment(), pointer, value)) == {expected}

    def test_adverts_are_optional_for_other_detections(self) -> None:
        envelope = changed(examples.illegal_employment(), "/payload/detection", "tip")
        del envelope["payload"]["online_adverts"]
        assert validate_envelope(envelope) == envelope

    def test_nationality_counts_may_leave_workers_unaccounted(self) -> None:
        envelope = changed(examples.illegal_employment(), "/payload/workers/count", 40)
        assert validate_envelope(envelope) == envelope
