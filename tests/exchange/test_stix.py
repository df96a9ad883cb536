"""Record versions as STIX 2.1: valid under the OASIS validator, versioned, minimal."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stix2
from stix2validator import ValidationOptions, validate_instance

from exchange.demo.records import make_envelope
from exchange.taxii import stix
from keys.jcs import canonicalize

STRICT = ValidationOptions(strict=True, version="2.1")


def signed(envelope: dict[str, Any], first: datetime | None = None) -> stix.SignedVersion:
    return stix.SignedVersion(
        envelope=envelope,
        canonical=canonicalize(envelope),
        signature="eyJhbGciOiJFZDI1NTE5In0..c2ln",
        receipt="eyJhbGciOiJFZDI1NTE5In0.e30.c2ln",
        first_issued_at=first or datetime.fromisoformat(envelope["issued_at"]),
    )


def assert_valid(objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        result = validate_instance(obj, STRICT)
        assert result.is_valid, [str(e) for e in result.errors]
        stix2.parse(obj, allow_custom=False)


class TestMapping:
    @pytest.mark.parametrize("record_type", ["broker", "school", "illegal_employment"])
    def test_every_type_validates_strictly(self, record_type: str) -> None:
        for _ in range(20):
            objects = stix.record_objects(signed(make_envelope(record_type, publisher="isa")))
            assert_valid(objects)
            assert objects[0]["type"] == stix.OBJECT_TYPES[record_type][0]
            assert {o["type"] for o in objects} <= set(stix.OBJECT_TYPES[record_type])

    def test_the_shared_objects_validate(self) -> None:
        assert_valid(stix.shared_objects())

    def test_ids_are_stable_and_amendments_are_new_versions(self) -> None:
        first = make_envelope("broker", publisher="isa")
        later = json.loads(json.dumps(first))
        issued = datetime.fromisoformat(first["issued_at"])
        later.update(version=2, issued_at=(issued + timedelta(hours=1)).isoformat())
        later["payload"]["narrative"] = "Amended after a second hearing."
        v1 = stix.record_objects(signed(first))
        v2 = stix.record_objects(signed(later, first=issued))
        assert [o["id"] for o in v1] == [o["id"] for o in v2]
        assert all(a["created"] == b["created"] for a, b in zip(v1, v2, strict=True))
        assert all(b["modified"] > a["modified"] for a, b in zip(v1, v2, strict=True))
        assert {o["id"] for o in v1} <= set(stix.object_ids(first))
        assert_valid(v2)

    def test_a_withdrawal_revokes_every_object(self) -> None:
        envelope = make_envelope("school", publisher="npa")
        envelope.update(version=2, status="withdrawn", reason="Entered in error.")
        objects = stix.record_objects(signed(envelope))
        assert all(o["revoked"] is True for o in objects)
        assert_valid(objects)

    def test_markings_follow_the_handling(self) -> None:
        envelope = make_envelope("broker", publisher="isa")
        envelope["handling"] = dict(
            envelope["handling"], audience=["npa"], restrictions=["no_onward_sharing"]
        )
        (primary, *_) = stix.record_objects(signed(envelope))
        assert primary["object_marking_refs"] == [
            stix.TLP_RED,
            stix.restriction_marking_id("no_onward_sharing"),
        ]
        envelope["handling"] = dict(envelope["handling"], audience=None, restrictions=[])
        assert stix.record_objects(signed(envelope))[0]["object_marking_refs"] == [stix.TLP_AMBER]

    def test_card_tokens_stay_inside_the_signed_envelope(self) -> None:
        found = 0
        for _ in range(40):
            envelope = make_envelope("illegal_employment", publisher="isa")
            tokens = (envelope["payload"].get("forged_cards") or {}).get("tokens", [])
            objects = stix.record_objects(signed(envelope))
            for obj in objects:
                outside = {k: v for k, v in obj.items() if k != "extensions"}
                for token in tokens:
                    assert token not in json.dumps(outside, ensure_ascii=False)
            found += len(tokens)
        assert found, "the demo data should carry some card tokens"

    def test_the_extension_carries_the_signed_bytes(self) -> None:
        envelope = make_envelope("illegal_employment", publisher="isa")
        version = signed(envelope)
        extension = stix.record_objects(version)[0]["extensions"][stix.EXTENSION_ID]
        assert extension["envelope"].encode() == version.canonical
        assert canonicalize(json.loads(extension["envelope"])) == version.canonical
        assert extension["signature"] == version.signature
        assert extension["receipt"] == version.receipt
        assert extension["jwks"] == "/api/v1/agencies/isa/jwks"

    def test_timestamps_are_in_milliseconds(self) -> None:
        moment = datetime(2026, 12, 7, 1, 2, 3, 456789, tzinfo=UTC)
        assert stix.timestamp(moment) == "2026-12-07T01:02:03.456Z"
