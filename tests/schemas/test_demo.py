from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from exchange.demo.records import (
    DEMO_AGENCIES,
    PUBLISHER_KINDS,
    demo_envelopes,
    make_envelope,
    new_record_id,
)
from schemas import RECORD_TYPES, validate_envelope

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
KIND_OF = {agency.id: agency.kind for agency in DEMO_AGENCIES}


class TestDemoAgencies:
    def test_directory(self) -> None:
        assert {agency.id for agency in DEMO_AGENCIES} == {
            "npa",
            "mpd",
            "ibaraki-pp",
            "isa",
            "mhlw",
            "tokyo-lb",
            "aichi-lb",
            "otit",
            "mext",
            "mofa",
        }
        assert set(KIND_OF.values()) == {"police", "immigration", "labour", "otit", "mext", "mofa"}

    def test_parents_exist(self) -> None:
        parents = {agency.parent for agency in DEMO_AGENCIES} - {None}
        assert parents <= set(KIND_OF)
        assert {a.id: a.parent for a in DEMO_AGENCIES}["mpd"] is None


class TestDemoEnvelopes:
    @pytest.mark.parametrize("seed", range(8))
    def test_every_demo_envelope_validates(self, seed: int) -> None:
        for envelope in demo_envelopes(seed=seed, now=NOW):
            assert validate_envelope(envelope) == envelope

    def test_publishers_respect_the_publish_policy(self) -> None:
        for seed in range(8):
            for envelope in demo_envelopes(seed=seed, now=NOW):
                assert KIND_OF[envelope["publisher"]] in PUBLISHER_KINDS[envelope["type"]]

    def test_mix_of_types(self) -> None:
        counts = Counter(envelope["type"] for envelope in demo_envelopes(now=NOW))
        assert counts == {"broker": 24, "school": 10, "illegal_employment": 14}

    def test_reproducible_for_a_seed(self) -> None:
        assert demo_envelopes(seed=3, now=NOW) == demo_envelopes(seed=3, now=NOW)
        assert demo_envelopes(seed=3, now=NOW) != demo_envelopes(seed=4, now=NOW)

    def test_issued_within_18_months_oldest_first_with_unique_time_ordered_ids(self) -> None:
        envelopes = demo_envelopes(count=200, now=NOW)
        issued = [datetime.fromisoformat(e["issued_at"]) for e in envelopes]
        assert issued == sorted(issued)
        assert all(NOW - timedelta(days=549) <= moment <= NOW for moment in issued)
        ids = [e["id"] for e in envelopes]
        assert len(set(ids)) == len(ids)
        assert all(uuid.UUID(record_id).version == 7 for record_id in ids)

    def test_looks_like_the_caseload(self) -> None:
        envelopes = [e for seed in range(10) for e in demo_envelopes(seed=seed, now=NOW)]
        brokers = Counter(e["payload"]["country"] for e in envelopes if e["type"] == "broker")
        employment = [e["payload"] for e in envelopes if e["type"] == "illegal_employment"]
        prefectures = Counter(p["employer"]["prefecture"] for p in employment)
        industries = Counter(p["employer"]["industry"] for p in employment)
        nationalities: Counter[str] = Counter()
        for payload in employment:
            for entry in payload["workers"]["nationalities"]:
                nationalities[entry["country"]] += entry["count"]
        assert brokers.most_common(1)[0][0] == "VN"
        assert industries.most_common(1)[0][0] == "agriculture"
        assert nationalities.most_common(1)[0][0] == "VN"
        assert prefectures.most_common(1)[0][0] == "08"
        top_five = sum(prefectures[code] for code in ("08", "12", "10", "11", "23"))
        assert top_five > 0.8 * len(employment)

    def test_some_records_narrow_their_audience(self) -> None:
        envelopes = demo_envelopes(count=200, now=NOW)
        assert any(e["handling"]["audience"] for e in envelopes)

    def test_illegal_employment_links_the_broker_records_it_names(self) -> None:
        envelopes = demo_envelopes(count=200, now=NOW)
        brokers = {e["id"] for e in envelopes if e["type"] == "broker"}
        linked = [
            link["id"]
            for e in envelopes
            if e["type"] == "illegal_employment"
            for link in e.get("links", ())
        ]
        assert linked
        assert set(linked) <= brokers

    def test_tokens_are_made_with_the_given_matching_key(self) -> None:
        def tokens(key: bytes) -> list[str]:
            envelopes = demo_envelopes(count=200, now=NOW, matching_key=key)
            return [
                e["payload"]["arrest"]["residence_card_token"]
                for e in envelopes
                if "residence_card_token" in e["payload"].get("arrest", {})
            ]

        first, second = tokens(b"1" * 32), tokens(b"2" * 32)
        assert first
        assert len(first) == len(second)
        assert not set(first) & set(second)


class TestMakeEnvelope:
    @pytest.mark.parametrize("record_type", RECORD_TYPES)
    def test_valid_for_every_type(self, record_type: str) -> None:
        publisher = {"broker": "otit", "school": "mofa", "illegal_employment": "aichi-lb"}
        envelope = make_envelope(record_type, publisher=publisher[record_type], now=NOW)
        assert validate_envelope(envelope) == envelope
        assert envelope["publisher"] == publisher[record_type]
        assert envelope["issued_at"] == "2026-11-25T10:00:00Z"

    def test_overrides_replace_top_level_members(self) -> None:
        envelope = make_envelope(
            "broker", publisher="isa", now=NOW, version=2, status="withdrawn", reason="Duplicate."
        )
        assert (envelope["version"], envelope["status"], envelope["reason"]) == (
            2,
            "withdrawn",
            "Duplicate.",
        )
        assert validate_envelope(envelope) == envelope


class TestNewRecordId:
    def test_is_a_lower_case_uuid_v7(self) -> None:
        record_id = new_record_id()
        assert record_id == str(uuid.UUID(record_id))
        assert uuid.UUID(record_id).version == 7
        assert uuid.UUID(record_id).variant == uuid.RFC_4122

    def test_time_ordered(self) -> None:
        earlier = new_record_id(at=NOW)
        later = new_record_id(at=NOW + timedelta(milliseconds=1))
        assert earlier < later
