"""Hand-written valid envelopes of every record type, and JSON Pointer helpers to break them."""

from __future__ import annotations

import copy
from typing import Any

from schemas import FieldError, SchemaInvalid, validate_envelope

# A token as the SDK would compute it (shape only; validation cannot know the key).
TOKEN = "rct1_" + "A" * 43
OTHER_TOKEN = "rct1_" + "B" * 42 + "A"

_HANDLING = {
    "audience": None,
    "restrictions": ["no_onward_sharing"],
    "legal_basis": ["measure:146", "law:入管法62条2項"],
    "retention_until": "2031-03-31",
}

_BROKER = {
    "id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
    "type": "broker",
    "schema": "broker/1",
    "version": 1,
    "status": "active",
    "publisher": "isa",
    "issued_at": "2026-11-25T10:00:00Z",
    "handling": _HANDLING,
    "evaluation": {"source": "B", "information": "2"},
    "payload": {
        "name": "Hoa Binh Manpower Co., Ltd.",
        "name_original": "Công ty TNHH Nhân lực Hòa Bình",
        "name_latin": "Cong ty TNHH Nhan luc Hoa Binh",
        "aliases": ["ホアビン人材", "HBM"],
        "category": "sending_organisation",
        "country": "VN",
        "licences": [{"kind": "foreign", "number": "123/LĐTBXH-GP"}],
        "address": {"text": "Cầu Giấy, Hà Nội"},
        "programmes": ["technical_intern", "specified_skilled_worker"],
        "allegations": ["excessive_fees", "deposit_or_penalty_contract"],
        "sources": ["trainee_hearing", "foreign_government"],
        "period": {"from": "2024-04-01", "to": "2025-09-30"},
        "measures": [
            {
                "kind": "foreign_government_notified",
                "date": "2025-10-15",
                "authority": "mofa",
                "reference": "MOFA-2025-0123",
            },
            {"kind": "visa_refusals", "date": "2025-11-01", "authority": "mofa"},
        ],
        "narrative": "Fees of 8,000 USD and a deposit contract.\nConfirmed in three hearings.",
    },
    "links": [{"rel": "related", "id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5c"}],
}

_DOMESTIC_BROKER_PAYLOAD = {
    "name": "協同組合アジア人材交流センター",
    "name_latin": "Asia Jinzai Koryu Center Cooperative",
    "category": "supervising_organisation",
    "country": "JP",
    "corporate_number": "4011001098993",
    "licences": [{"kind": "supervising_organisation", "number": "許1713000123"}],
    "address": {"prefecture": "13", "municipality": "131016", "text": "千代田区1丁目"},
    "programmes": ["technical_intern"],
    "allegations": ["wage_violation"],
    "sources": ["onsite_inspection"],
}

_SCHOOL_ARREST = {
    **_BROKER,
    "type": "school",
    "schema": "school/1",
    "publisher": "mpd",
    "handling": {**_HANDLING, "legal_basis": ["measure:197"]},
    "payload": {
        "school": {
            "name": "東京国際日本語学院",
            "name_latin": "Tokyo International Japanese Language Institute",
            "operator_corporate_number": "2120901007402",
            "prefecture": "13",
            "municipality": "131041",
            "status": "kokuji",
        },
        "finding": "arrested_student",
        "arrest": {
            "nationality": "VN",
            "arrest_date": "2026-11-20",
            "offence_category": "illegal_work",
            "arresting_agency": "mpd",
            "case_reference": "MPD-2026-004512",
            "residence_card_token": TOKEN,
        },
    },
}
del _SCHOOL_ARREST["links"]

_SCHOOL_VISA = {
    **_SCHOOL_ARREST,
    "publisher": "mofa",
    "payload": {
        "school": {"name": "なにわ国際日本語学院", "prefecture": "27", "status": "mext_certified"},
        "finding": "visa_screening_nonconformity",
        "visa_screening": {
            "consulate_country": "NP",
            "period": {"from": "2026-04-01", "to": "2026-09-30"},
            "applicants_screened": 120,
            "nonconforming": 38,
            "reasons": ["financial_evidence_doubtful", "forged_documents"],
        },
    },
}

_ILLEGAL_EMPLOYMENT = {
    **_BROKER,
    "id": "0193a1b3-0000-7000-8000-000000000001",
    "type": "illegal_employment",
    "schema": "illegal_employment/1",
    "publisher": "ibaraki-pp",
    "handling": {**_HANDLING, "audience": ["isa", "npa", "mhlw"], "legal_basis": ["measure:210"]},
    "payload": {
        "employer": {
            "name": "株式会社鉾田グリーン農園",
            "corporate_number": "7123456789012",
            "prefecture": "08",
            "municipality": "082341",
            "industry": "agriculture",
        },
        "brokers": [
            {
                "name": "Hoa Binh Manpower",
                "broker_record_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
            },
            {"name": "SNS上の仕事紹介グループ"},
        ],
        "workers": {
            "count": 12,
            "nationalities": [{"country": "VN", "count": 9}, {"country": "TH", "count": 2}],
            "residence_statuses": ["technical_intern_training", "none"],
            "overstay_count": 7,
            "unauthorised_activity_count": 3,
        },
        "offences": [
            "facilitation_employing",
            "facilitation_brokering",
            "illegal_work",
            "forged_residence_card",
        ],
        "forged_cards": {"count": 2, "tokens": [TOKEN, OTHER_TOKEN]},
        "detection": "online_advert",
        "online_adverts": [
            {
                "platform": "Facebook",
                "url": "https://www.facebook.com/groups/1234567",
                "observed_on": "2026-08-01",
            }
        ],
        "period": {"from": "2025-10-01", "to": "2026-09-15"},
        "detected_on": "2026-09-15",
        "enforcement": [
            {"kind": "arrest", "date": "2026-09-16", "authority": "ibaraki-pp"},
            {"kind": "deportation_order", "date": "2026-10-20", "authority": "isa"},
        ],
    },
    "links": [{"rel": "broker", "id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"}],
}


def broker() -> dict[str, Any]:
    return copy.deepcopy(_BROKER)


def domestic_broker() -> dict[str, Any]:
    return {**broker(), "payload": copy.deepcopy(_DOMESTIC_BROKER_PAYLOAD)}


def school_arrest() -> dict[str, Any]:
    return copy.deepcopy(_SCHOOL_ARREST)


def school_visa_screening() -> dict[str, Any]:
    return copy.deepcopy(_SCHOOL_VISA)


def illegal_employment() -> dict[str, Any]:
    return copy.deepcopy(_ILLEGAL_EMPLOYMENT)


DELETE = object()


def _walk(document: Any, pointer: str) -> tuple[Any, str | int]:
    """The container holding the member ``pointer`` names, and the member's key."""
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]
    node = document
    for token in tokens[:-1]:
        node = node[int(token)] if isinstance(node, list) else node[token]
    last = tokens[-1]
    return node, int(last) if isinstance(node, list) else last


def changed(document: dict[str, Any], pointer: str, value: Any) -> dict[str, Any]:
    """A copy of ``document`` with the member at ``pointer`` set to ``value`` (or deleted)."""
    result = copy.deepcopy(document)
    container, key = _walk(result, pointer)
    if value is DELETE:
        del container[key]
    else:
        container[key] = value
    return result


def errors_of(document: Any) -> list[FieldError]:
    """The errors validate_envelope reports (none when it accepts ``document``)."""
    try:
        validate_envelope(document)
    except SchemaInvalid as invalid:
        return list(invalid.errors)
    return []


def pointers_of(document: Any) -> set[str]:
    return {error.pointer for error in errors_of(document)}
