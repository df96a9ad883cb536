"""A record's coded facts that searches and look-ups go by: allegations, programmes, and
the identifiers of the organisation it is about (corporate and licence numbers), and the
ids of the STIX objects it maps to.

Kept in ``record_tag`` (kind, value, record), written with the record's current version,
so that a filter or an "also reported by" look-up is an index range, not a scan of the
signed bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exchange.taxii.stix import object_ids
from schemas import SearchFields

ALLEGATION = "allegation"
PROGRAMME = "programme"
CORPORATE_NUMBER = "corporate_number"
LICENCE = "licence"
# The ids of the STIX objects a record maps to (exchange.taxii.stix), for TAXII's match[id].
STIX_ID = "stix"


def allegations(payload: Mapping[str, Any]) -> set[str]:
    """A broker's allegations and an employer's offences: one filter asks for either."""
    return set(payload.get("allegations", ())) | set(payload.get("offences", ()))


def programmes(payload: Mapping[str, Any]) -> set[str]:
    return set(payload.get("programmes", ()))


def licence_value(country: str, number: str) -> str:
    # A corporate number is unique in Japan; a licence number only within its country.
    return f"{country}:{number}"


def record_tags(envelope: Mapping[str, Any], facts: SearchFields) -> list[tuple[str, str]]:
    payload = envelope.get("payload") or {}
    country = str(payload.get("country", "JP")) if envelope.get("type") == "broker" else "JP"
    tags = {(ALLEGATION, code) for code in allegations(payload)}
    tags |= {(PROGRAMME, code) for code in programmes(payload)}
    tags |= {(CORPORATE_NUMBER, number) for number in facts.corporate_numbers}
    tags |= {(LICENCE, licence_value(country, number)) for number in facts.licences}
    if envelope.get("id") and envelope.get("type"):
        tags |= {(STIX_ID, value) for value in object_ids(envelope)}
    return sorted(tags)
