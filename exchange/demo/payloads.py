"""Payloads of the demo records, one builder per record type (DESIGN §4)."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from exchange.demo import vocabulary as vocab
from schemas import corporate_number_check_digit, municipality_check_digit, residence_card_token

# Tokens made with this key match nothing the exchange computes; pass the exchange's own
# matching key to make demo tokens searchable.
DEMO_MATCHING_KEY = b"demo-matching-key: not for production use"


@dataclass(frozen=True)
class Publisher:
    """What a payload builder needs to know of the publishing agency."""

    id: str
    kind: str | None
    prefecture: str | None  # set for agencies whose cases all lie in one prefecture


def pick(rng: random.Random, weights: Mapping[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _corporate_number(rng: random.Random, prefecture: str, kind: str = "01") -> str:
    body = f"{prefecture}{rng.randint(0, 99):02d}{kind}{rng.randint(0, 999_999):06d}"
    return f"{corporate_number_check_digit(body)}{body}"


def _municipality(rng: random.Random, prefecture: str) -> tuple[str, str]:
    """A JIS X 0402 code with its check digit, and the municipality's name."""
    body, name = rng.choice(vocab.MUNICIPALITIES[prefecture])
    return f"{body}{municipality_check_digit(body)}", name


def day(when: date) -> str:
    return when.isoformat()


def _period(rng: random.Random, until: date, *, max_days: int = 720) -> dict[str, str]:
    end = until - timedelta(days=rng.randint(7, 60))
    return {"from": day(end - timedelta(days=rng.randint(30, max_days))), "to": day(end)}


def sample(rng: random.Random, population: Sequence[str], low: int, high: int) -> list[str]:
    return rng.sample(list(population), rng.randint(low, min(high, len(population))))


def _card_token(rng: random.Random, key: bytes) -> str:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    number = (
        "".join(rng.choices(letters, k=2))
        + f"{rng.randint(0, 99_999_999):08d}"
        + "".join(rng.choices(letters, k=2))
    )
    return residence_card_token(number, key=key)


def broker_payload(rng: random.Random, publisher: Publisher, issued: date) -> dict[str, Any]:
    """A broker/1 payload as ``publisher`` would report it."""
    kind = publisher.kind
    domestic = rng.random() < (0.3 if kind in {"otit", "labour"} else 0.08)
    if domestic:
        name, latin, category, licence_kind, prefecture = rng.choice(vocab.DOMESTIC_BROKERS)
        municipality, town = _municipality(rng, prefecture)
        payload: dict[str, Any] = {
            "name": name,
            "name_latin": latin,
            "category": category,
            "country": "JP",
            "corporate_number": _corporate_number(rng, prefecture, "05"),
            "licences": [{"kind": licence_kind, "number": _licence(rng, licence_kind, prefecture)}],
            "address": {
                "prefecture": prefecture,
                "municipality": municipality,
                "text": f"{town}{rng.randint(1, 5)}丁目{rng.randint(1, 30)}番",
            },
            "programmes": ["specified_skilled_worker"]
            if category != "supervising_organisation"
            else ["technical_intern"],
            "allegations": sample(
                rng,
                [
                    "wage_violation",
                    "excessive_fees",
                    "passport_retention",
                    "deposit_or_penalty_contract",
                    "document_forgery",
                ],
                1,
                3,
            ),
            "sources": sample(
                rng, ["trainee_hearing", "onsite_inspection", "organisation_report"], 1, 2
            ),
        }
    else:
        country = pick(rng, vocab.BROKER_COUNTRY_WEIGHTS)
        if rng.random() < 0.15 and country in {"VN", "CN"}:
            original, latin = rng.choice(
                [
                    c
                    for c in vocab.INDIVIDUAL_BROKER_CHANNELS
                    if ("微信" in c[0]) == (country == "CN")
                ]
            )
            katakana, category = None, "individual_broker"
        else:
            original, latin, katakana = rng.choice(vocab.FOREIGN_BROKER_NAMES[country])
            category = rng.choice(["sending_organisation"] * 4 + ["employment_agency", "other"])
        programmes = (
            ["student"]
            if kind == "mext" or "Du học" in original
            else sample(rng, ["technical_intern", "specified_skilled_worker"], 1, 2)
        )
        payload = {
            "name": latin,
            "name_original": original,
            "name_latin": latin,
            "category": category,
            "country": country,
        }
        if katakana:
            payload["aliases"] = [katakana]
        if category == "sending_organisation" and rng.random() < 0.5:
            payload["licences"] = [{"kind": "foreign", "number": f"{rng.randint(10, 999)}/GP"}]
        payload |= {
            "programmes": programmes,
            "allegations": sample(
                rng,
                [
                    "excessive_fees",
                    "deposit_or_penalty_contract",
                    "passport_retention",
                    "document_forgery",
                    "illegal_work_brokering",
                    "human_trafficking",
                ],
                1,
                3,
            ),
            "sources": sample(
                rng,
                [
                    "trainee_hearing",
                    "foreign_government",
                    "visa_screening",
                    "criminal_investigation",
                ],
                1,
                2,
            ),
        }
    payload["period"] = _period(rng, issued)
    payload["measures"] = _measures(rng, domestic, issued)
    payload["narrative"] = (
        "Trainees heard at the intern's workplace described fees well above the permitted "
        "amount and a deposit forfeited on early return."
        if "excessive_fees" in payload["allegations"]
        else "Reported through the bilateral channel; details in the publisher's file."
    )
    return payload


def _licence(rng: random.Random, kind: str, prefecture: str) -> str:
    if kind == "supervising_organisation":
        return f"許{rng.randint(17, 24)}{prefecture}{rng.randint(1, 999_999):06d}"
    if kind == "registered_support":
        return f"{rng.randint(19, 24)}登-{rng.randint(1, 999_999):06d}"
    return f"{prefecture}-ユ-{rng.randint(300_000, 309_999)}"


def _measures(rng: random.Random, domestic: bool, issued: date) -> list[dict[str, str]]:
    if rng.random() < 0.4:
        return []
    kinds = (
        ["licence_revoked", "improvement_order"]
        if domestic
        else ["foreign_government_notified", "visa_refusals"]
    )
    authority = {
        "licence_revoked": "mhlw",
        "improvement_order": "otit",
        "foreign_government_notified": "mofa",
        "visa_refusals": "mofa",
    }
    return [
        {
            "kind": kind,
            "date": day(issued - timedelta(days=rng.randint(1, 90))),
            "authority": authority[kind],
            "reference": f"{authority[kind].upper()}-{issued.year}-{rng.randint(1, 9999):04d}",
        }
        for kind in sample(rng, kinds, 1, 2)
    ]


def school_payload(
    rng: random.Random, publisher: Publisher, issued: date, *, matching_key: bytes
) -> dict[str, Any]:
    """A school/1 payload: an arrest when police report, a visa finding when MOFA does."""
    police = publisher.kind == "police"
    jurisdiction = publisher.prefecture
    candidates = [s for s in vocab.SCHOOLS if jurisdiction in (None, s[2])] or list(vocab.SCHOOLS)
    name, latin, prefecture, body = rng.choice(candidates)
    school = {
        "name": name,
        "name_latin": latin,
        "operator_corporate_number": _corporate_number(rng, prefecture),
        "prefecture": prefecture,
        "municipality": f"{body}{municipality_check_digit(body)}",
        "status": rng.choice(["kokuji"] * 5 + ["mext_certified", "unknown"]),
    }
    if police:
        arrest: dict[str, Any] = {
            "nationality": pick(rng, vocab.STUDENT_NATIONALITY_WEIGHTS),
            "arrest_date": day(issued - timedelta(days=rng.randint(1, 30))),
            "offence_category": rng.choice(
                ["illegal_work", "illegal_work", "theft", "immigration_violation", "fraud", "drugs"]
            ),
            "arresting_agency": vocab.PREFECTURAL_POLICE.get(prefecture, publisher.id),
            "case_reference": f"{prefecture}-{issued.year}-{rng.randint(1, 99_999):05d}",
        }
        if rng.random() < 0.6:
            arrest["residence_card_token"] = _card_token(rng, matching_key)
        return {"school": school, "finding": "arrested_student", "arrest": arrest}
    screened = rng.randint(20, 180)
    return {
        "school": school,
        "finding": "visa_screening_nonconformity",
        "visa_screening": {
            "consulate_country": pick(rng, vocab.STUDENT_NATIONALITY_WEIGHTS),
            "period": _period(rng, issued, max_days=180),
            "applicants_screened": screened,
            "nonconforming": rng.randint(max(1, screened // 10), screened // 2),
            "reasons": sample(
                rng,
                [
                    "forged_documents",
                    "financial_evidence_doubtful",
                    "language_ability_doubtful",
                    "prior_violations",
                ],
                1,
                3,
            ),
        },
    }


def employment_payload(
    rng: random.Random,
    publisher: Publisher,
    issued: date,
    brokers: Sequence[tuple[str, str]],
    *,
    matching_key: bytes,
) -> dict[str, Any]:
    """An illegal_employment/1 payload; may name one of ``brokers`` (record id, name)."""
    kind = publisher.kind
    prefecture = publisher.prefecture or pick(rng, vocab.EMPLOYMENT_PREFECTURE_WEIGHTS)
    municipality, town = _municipality(rng, prefecture)
    place = town.removesuffix("市").removesuffix("区")
    industry = pick(rng, vocab.INDUSTRY_WEIGHTS)
    if prefecture == "13" and industry in {"agriculture", "fishery"}:
        industry = rng.choice(["food_service", "construction", "cleaning"])  # Tokyo's wards
    employer: dict[str, Any] = {
        "name": rng.choice(vocab.EMPLOYER_PATTERNS[industry]).format(place=place),
        "prefecture": prefecture,
        "municipality": municipality,
        "industry": industry,
    }
    if rng.random() < 0.8:
        employer["corporate_number"] = _corporate_number(rng, prefecture)
    count = rng.randint(1, 24)
    nationalities: dict[str, int] = {}
    left = count
    for _ in range(rng.randint(1, 3)):
        if left == 0:
            break
        country = pick(rng, vocab.WORKER_NATIONALITY_WEIGHTS)
        share = rng.randint(1, left)
        nationalities[country] = nationalities.get(country, 0) + share
        left -= share
    offences = ["illegal_work", "facilitation_employing"]
    detection = rng.choice(
        ["inspection", "tip", "online_advert", "joint_operation", "arrest"]
        + (["notification_mismatch"] * 2 if kind == "labour" else [])
    )
    payload: dict[str, Any] = {
        "employer": employer,
        "workers": {
            "count": count,
            "nationalities": [{"country": c, "count": n} for c, n in nationalities.items()],
            "residence_statuses": sample(
                rng,
                [
                    "technical_intern_training",
                    "student",
                    "none",
                    "temporary_visitor",
                    "designated_activities",
                    "engineer_humanities_international",
                ],
                1,
                3,
            ),
            "overstay_count": rng.randint(0, count),
            "unauthorised_activity_count": rng.randint(0, count),
        },
    }
    if brokers and rng.random() < 0.5:
        record_id, name = rng.choice(brokers)
        payload["brokers"] = [{"name": name, "broker_record_id": record_id}]
        offences.append("facilitation_brokering")
    if rng.random() < 0.15:
        offences.append("forged_residence_card")
        cards = rng.randint(1, 4)
        payload["forged_cards"] = {
            "count": cards,
            "tokens": [_card_token(rng, matching_key) for _ in range(rng.randint(0, cards))],
        }
    if kind == "labour" or rng.random() < 0.1:
        offences.append("labour_law_violation")
    detected = issued - timedelta(days=rng.randint(5, 120))
    payload |= {"offences": offences, "detection": detection}
    if detection == "online_advert":
        platform, base = rng.choice(vocab.ADVERT_PLATFORMS)
        payload["online_adverts"] = [
            {
                "platform": platform,
                "url": f"{base}{rng.randint(10**6, 10**7)}",
                "observed_on": day(detected - timedelta(days=rng.randint(1, 30))),
            }
        ]
    payload |= {
        "period": _period(rng, detected + timedelta(days=30)),
        "detected_on": day(detected),
    }
    enforcement = {
        "police": "arrest",
        "immigration": "deportation_order",
        "labour": "corrective_recommendation",
    }.get(kind or "", "administrative_guidance")
    payload["enforcement"] = [
        {
            "kind": enforcement,
            "date": day(detected + timedelta(days=rng.randint(0, 4))),
            "authority": publisher.id,
        }
    ]
    return payload
