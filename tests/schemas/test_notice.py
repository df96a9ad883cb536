"""notice/1 and notice-step/1: what a notice may quote, and what each step must carry."""

from __future__ import annotations

from typing import Any

import pytest

from schemas import SchemaInvalid
from schemas.notice import FACT_FIELDS, fields_outside_whitelist, validate_notice, validate_step

NOTICE_ID = "0193a1b2-0000-7000-8000-000000000001"
BROKER_ID = "0193a1b2-0000-7000-8000-000000000002"
DIGEST = "ab" * 32


def notice(**facts: Any) -> dict[str, Any]:
    return {
        "id": NOTICE_ID,
        "schema": "notice/1",
        "version": 1,
        "agency": "otit",
        "country": "VN",
        "drafted_by": "liaison.otit",
        "brokers": [{"id": BROKER_ID, "version": 1, "facts": {"name": "Công ty Sao", **facts}}],
        "request": {"ja": "厳正な対応を申し入れる。", "en": "Strict action is requested."},
        "issued_at": "2026-12-07T10:00:00Z",
    }


def step(kind: str, **extra: Any) -> dict[str, Any]:
    return {
        "schema": "notice-step/1",
        "notice": NOTICE_ID,
        "notice_version": 1,
        "notice_sha256": DIGEST,
        "previous": DIGEST,
        "step": kind,
        "agency": "otit",
        "by": "approver.otit",
        "at": "2026-12-07T10:05:00Z",
        **extra,
    }


def pointers(error: pytest.ExceptionInfo[SchemaInvalid]) -> set[str]:
    return {e.pointer for e in error.value.errors}


class TestNotice:
    def test_valid_notice_is_returned_unchanged(self) -> None:
        document = notice(
            allegations=["excessive_fees"], period={"from": "2025-01-01", "to": "2025-12-31"}
        )
        assert validate_notice(document) == document

    def test_personal_data_fields_are_outside_the_whitelist(self) -> None:
        assert "narrative" not in FACT_FIELDS and "address" not in FACT_FIELDS
        document = notice(narrative="…", address={"text": "Hà Nội"})
        assert {e.pointer for e in fields_outside_whitelist(document)} == {
            "/brokers/0/facts/narrative",
            "/brokers/0/facts/address",
        }
        with pytest.raises(SchemaInvalid) as error:
            validate_notice(document)
        assert pointers(error) == {"/brokers/0/facts/narrative", "/brokers/0/facts/address"}

    def test_quoted_values_are_validated_as_in_broker_records(self) -> None:
        with pytest.raises(SchemaInvalid) as error:
            validate_notice(notice(category="smuggler", country="XX"))
        assert pointers(error) == {"/brokers/0/facts/category", "/brokers/0/facts/country"}

    def test_each_broker_is_named_once(self) -> None:
        document = notice()
        document["brokers"].append(dict(document["brokers"][0]))
        document["brokers"][0]["facts"] = {}
        with pytest.raises(SchemaInvalid) as error:
            validate_notice(document)
        assert pointers(error) == {"/brokers/0/facts/name", "/brokers/1/id"}

    def test_a_broker_of_any_shape_is_an_error_not_a_crash(self) -> None:
        document = notice()
        document["brokers"] = [{"id": {"nested": 1}}, [], "x", {"id": BROKER_ID}]
        with pytest.raises(SchemaInvalid) as error:
            validate_notice(document)
        assert "/brokers/0/id" in pointers(error)


class TestStep:
    def test_rejection_needs_a_reason_and_only_an_answer_carries_an_answer(self) -> None:
        answer = {"received_on": "2026-12-01", "summary": "調査中", "action_reported": "no_action"}
        with pytest.raises(SchemaInvalid) as error:
            validate_step(step("rejection", answer=answer))
        assert pointers(error) == {"/reason", "/answer"}
        assert validate_step(step("rejection", reason="根拠不足")) == step(
            "rejection", reason="根拠不足"
        )

    def test_answer_and_dispatch_reference(self) -> None:
        answer = {"received_on": "2026-12-01", "summary": "調査中", "action_reported": "no_action"}
        assert validate_step(step("answer", answer=answer))["answer"] == answer
        with pytest.raises(SchemaInvalid) as error:
            validate_step(step("approval", reference="NV-1", previous="AB" * 32))
        assert pointers(error) == {"/reference", "/previous"}
