"""Demo agencies and unsigned demo records that look like the real caseload (DESIGN §4).

Every envelope made here passes ``schemas.validate_envelope``, and is published only by
an agency whose kind may publish its type under the default sharing policy (DESIGN §5).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from exchange.demo.payloads import (
    DEMO_MATCHING_KEY,
    Publisher,
    broker_payload,
    day,
    employment_payload,
    pick,
    sample,
    school_payload,
)
from schemas import SCHEMA_NAMES


@dataclass(frozen=True)
class DemoAgency:
    id: str
    kind: str
    name_ja: str
    name_en: str
    parent: str | None


DEMO_AGENCIES: tuple[DemoAgency, ...] = (
    DemoAgency("npa", "police", "警察庁", "National Police Agency", None),
    # The Tokyo MPD is a prefectural police force, not a branch of the NPA.
    DemoAgency("mpd", "police", "警視庁", "Tokyo Metropolitan Police Department", None),
    DemoAgency("ibaraki-pp", "police", "茨城県警察", "Ibaraki Prefectural Police", None),
    DemoAgency("isa", "immigration", "出入国在留管理庁", "Immigration Services Agency", None),
    DemoAgency("mhlw", "labour", "厚生労働省", "Ministry of Health, Labour and Welfare", None),
    DemoAgency("tokyo-lb", "labour", "東京労働局", "Tokyo Labour Bureau", "mhlw"),
    DemoAgency("aichi-lb", "labour", "愛知労働局", "Aichi Labour Bureau", "mhlw"),
    DemoAgency(
        "otit", "otit", "外国人技能実習機構", "Organization for Technical Intern Training", None
    ),
    DemoAgency(
        "mext",
        "mext",
        "文部科学省",
        "Ministry of Education, Culture, Sports, Science and Technology",
        None,
    ),
    DemoAgency("mofa", "mofa", "外務省", "Ministry of Foreign Affairs", None),
)
AGENCY_KINDS: Mapping[str, str] = {agency.id: agency.kind for agency in DEMO_AGENCIES}

# DESIGN §5 defaults: which agency kinds may publish each record type.
PUBLISHER_KINDS: Mapping[str, frozenset[str]] = {
    "broker": frozenset({"police", "immigration", "labour", "otit", "mext", "mofa"}),
    "school": frozenset({"police", "mofa"}),
    "illegal_employment": frozenset({"immigration", "police", "labour"}),
}
# Demo publishers per type, weighted as the agencies' shares of the caseload.
_PUBLISHER_WEIGHTS: Mapping[str, Mapping[str, int]] = {
    "broker": {
        "isa": 25,
        "otit": 20,
        "mhlw": 10,
        "mofa": 10,
        "mext": 7,
        "npa": 8,
        "mpd": 5,
        "ibaraki-pp": 5,
        "tokyo-lb": 5,
        "aichi-lb": 5,
    },
    "school": {"npa": 3, "mpd": 4, "ibaraki-pp": 1, "mofa": 4},
    "illegal_employment": {
        "isa": 35,
        "ibaraki-pp": 20,
        "npa": 10,
        "mhlw": 10,
        "aichi-lb": 10,
        "mpd": 4,
        "tokyo-lb": 3,
    },
}
# Agencies whose cases all lie in one prefecture.
_JURISDICTION: Mapping[str, str] = {
    "mpd": "13",
    "ibaraki-pp": "08",
    "tokyo-lb": "13",
    "aichi-lb": "23",
}
_TYPE_SHARES = (("broker", 0.5), ("school", 0.2), ("illegal_employment", 0.3))


def new_record_id(rng: random.Random | None = None, *, at: datetime | None = None) -> str:
    """A UUIDv7 (RFC 9562 §5.7): 48 bits of Unix milliseconds, then random bits."""
    millis = int((at or datetime.now(UTC)).timestamp() * 1000) & (2**48 - 1)
    bits = (rng or random.SystemRandom()).getrandbits(74)
    value = (
        (millis << 80) | (0x7 << 76) | ((bits >> 62) << 64) | (0b10 << 62) | (bits & (2**62 - 1))
    )
    return str(uuid.UUID(int=value))


def _legal_basis(record_type: str, payload: Mapping[str, Any]) -> list[str]:
    if record_type == "broker":
        basis = ["measure:146", "measure:147"] if payload["country"] != "JP" else ["measure:146"]
        return [*basis, "law:技能実習法"] if "technical_intern" in payload["programmes"] else basis
    if record_type == "school":
        return ["measure:197"]
    basis = ["measure:210", "law:入管法62条2項"]
    return [*basis, "measure:204"] if "labour_law_violation" in payload["offences"] else basis


def _audience(record_type: str, rng: random.Random) -> list[str] | None:
    if rng.random() >= 0.12:
        return None
    return {
        "broker": ["isa", "otit", "mofa"],
        "school": ["isa", "mofa"],
        "illegal_employment": ["isa", "npa", "mhlw"],
    }[record_type]


def _envelope(
    record_type: str, publisher: str, payload: dict[str, Any], issued: datetime, rng: random.Random
) -> dict[str, Any]:
    retention = date(issued.year + 5 + (issued.month > 3), 3, 31)  # end of a fiscal year
    envelope: dict[str, Any] = {
        "id": new_record_id(rng, at=issued),
        "type": record_type,
        "schema": SCHEMA_NAMES[record_type],
        "version": 1,
        "status": "active",
        "publisher": publisher,
        "issued_at": issued.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "handling": {
            "audience": _audience(record_type, rng),
            "restrictions": sample(
                rng,
                [
                    "no_onward_sharing",
                    "no_court_use_without_consent",
                    "no_foreign_disclosure_without_consent",
                ],
                0,
                2,
            ),
            "legal_basis": _legal_basis(record_type, payload),
            "retention_until": day(retention),
        },
        "evaluation": {"source": rng.choice("AABBBBC"), "information": rng.choice("11222223")},
        "payload": payload,
    }
    linked = [b["broker_record_id"] for b in payload.get("brokers", ()) if "broker_record_id" in b]
    if linked:
        envelope["links"] = [{"rel": "broker", "id": record_id} for record_id in linked]
    return envelope


def _payload(
    record_type: str,
    rng: random.Random,
    publisher: str,
    issued: date,
    brokers: Sequence[tuple[str, str]] = (),
    *,
    matching_key: bytes,
) -> dict[str, Any]:
    about = Publisher(publisher, AGENCY_KINDS.get(publisher), _JURISDICTION.get(publisher))
    if record_type == "broker":
        return broker_payload(rng, about, issued)
    if record_type == "school":
        return school_payload(rng, about, issued, matching_key=matching_key)
    if record_type == "illegal_employment":
        return employment_payload(rng, about, issued, brokers, matching_key=matching_key)
    raise ValueError(f"unknown record type {record_type!r}")


def make_envelope(
    record_type: str,
    *,
    publisher: str,
    rng: random.Random | None = None,
    now: datetime | None = None,
    matching_key: bytes = DEMO_MATCHING_KEY,
    **overrides: Any,
) -> dict[str, Any]:
    """One valid unsigned envelope of ``record_type``; ``overrides`` replace top-level keys.

    Residence card tokens are made with ``matching_key``.
    """
    rng = rng or random.Random()
    issued = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    payload = _payload(record_type, rng, publisher, issued.date(), matching_key=matching_key)
    return _envelope(record_type, publisher, payload, issued, rng) | overrides


def demo_envelopes(
    *,
    seed: int = 7,
    count: int = 48,
    now: datetime | None = None,
    matching_key: bytes = DEMO_MATCHING_KEY,
) -> list[dict[str, Any]]:
    """``count`` unsigned version-1 envelopes of all three types, oldest first, issued within
    the 18 months before ``now``; residence card tokens are made with ``matching_key``."""
    rng = random.Random(seed)
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    types = [t for t, share in _TYPE_SHARES[:-1] for _ in range(round(count * share))]
    types = (types + [_TYPE_SHARES[-1][0]] * count)[:count]
    rng.shuffle(types)
    moments = sorted(now - timedelta(seconds=rng.randint(60, 548 * 86_400)) for _ in types)
    envelopes: list[dict[str, Any]] = []
    brokers: list[tuple[str, str]] = []
    for record_type, issued in zip(types, moments, strict=True):
        publisher = pick(rng, _PUBLISHER_WEIGHTS[record_type])
        payload = _payload(
            record_type, rng, publisher, issued.date(), brokers, matching_key=matching_key
        )
        envelope = _envelope(record_type, publisher, payload, issued, rng)
        if record_type == "broker":
            brokers.append((envelope["id"], payload["name"]))
        envelopes.append(envelope)
    return envelopes
