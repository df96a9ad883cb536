"""The referral and its steps: what is accepted, and each refusal at its JSON Pointer."""

from __future__ import annotations

from typing import Any

import pytest

from schemas import SchemaInvalid, validate_referral, validate_referral_step

RECORD = "0193a1b2-0000-7000-8000-000000000002"


def referral(**changes: Any) -> dict[str, Any]:
    document = {
        "schema": "referral/1",
        "id": "0193a1b2-0000-7000-8000-000000000001",
        "sender": "isa",
        "receivers": ["tokyo-lb", "otit"],
        "records": [{"id": RECORD, "version": 2}],
        "kind": "violation_notification",
        "requested_action": "賃金不払いの疑い。是正の結果を報告願います。",
        "due": "2027-01-31",
        "sent_by": {"kind": "system", "name": "gateway"},
        "issued_at": "2026-12-07T10:00:00Z",
    }
    document.update(changes)
    return document


def step(**changes: Any) -> dict[str, Any]:
    document = {
        "schema": "referral_step/1",
        "id": "0193a1b2-0000-7000-8000-000000000003",
        "referral": "0193a1b2-0000-7000-8000-000000000001",
        "referral_sha256": "a" * 64,
        "agency": "tokyo-lb",
        "step": "closed",
        "by": {"kind": "user", "name": "sato"},
        "outcome": "corrective_order",
        "issued_at": "2026-12-20T10:00:00Z",
    }
    document.update(changes)
    return {k: v for k, v in document.items() if v is not None}


def pointers(call: Any, document: dict[str, Any]) -> list[str]:
    with pytest.raises(SchemaInvalid) as invalid:
        call(document)
    return [error.pointer for error in invalid.value.errors]


class TestReferral:
    def test_a_valid_referral_is_returned_unchanged(self) -> None:
        assert validate_referral(referral()) == referral()

    @pytest.mark.parametrize(
        ("changes", "pointer"),
        [
            ({"receivers": ["isa"]}, "/receivers"),
            ({"receivers": []}, "/receivers"),
            ({"records": [{"id": RECORD}, {"id": RECORD}]}, "/records"),
            ({"kind": "gossip"}, "/kind"),
            ({"due": "2026-12-01"}, "/due"),
            ({"issued_at": "2026-12-07T10:00:00+09:00"}, "/issued_at"),
            ({"extra": 1}, "/extra"),
            (
                {
                    "attachments": [
                        {
                            "name": "a.exe",
                            "media_type": "application/x-msdownload",
                            "size": 1,
                            "sha256": "b" * 64,
                        }
                    ]
                },
                "/attachments/0/media_type",
            ),
            (
                {
                    "attachments": [
                        {
                            "name": "a.pdf",
                            "media_type": "application/pdf",
                            "size": 3 * 2**20,
                            "sha256": "b" * 64,
                        }
                    ]
                },
                "/attachments/0/size",
            ),
        ],
    )
    def test_refused_at_its_pointer(self, changes: dict[str, Any], pointer: str) -> None:
        assert pointer in pointers(validate_referral, referral(**changes))


class TestStep:
    def test_a_closure_with_an_outcome(self) -> None:
        assert validate_referral_step(step()) == step()

    def test_no_action_needs_a_reason(self) -> None:
        assert pointers(validate_referral_step, step(outcome="no_action")) == ["/reason"]
        assert validate_referral_step(step(outcome="no_action", reason="対応済み"))

    def test_each_step_carries_only_its_own_members(self) -> None:
        assert "/assignee" in pointers(validate_referral_step, step(step="assigned", outcome=None))
        assert "/outcome" in pointers(validate_referral_step, step(step="acknowledged"))
        assert "/outcome" in pointers(validate_referral_step, step(outcome=None))
