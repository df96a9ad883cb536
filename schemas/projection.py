"""What the exchange indexes of a record for search, derived from its payload.

Kept beside the payload schemas so that the server never has to know a payload's shape:
a new record type or version brings its projection with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SearchFields:
    """The searchable facts of one record version."""

    names: tuple[str, ...]
    countries: tuple[str, ...]
    prefecture: str | None
    category: str | None
    corporate_numbers: tuple[str, ...]
    licences: tuple[str, ...]
    card_tokens: tuple[str, ...] = ()


def _distinct(values: Iterable[str | None]) -> tuple[str, ...]:
    """Present values once each, in first-seen order."""
    return tuple(dict.fromkeys(value for value in values if value))


def _broker(payload: Mapping[str, Any]) -> SearchFields:
    return SearchFields(
        names=_distinct(
            [
                payload["name"],
                payload.get("name_original"),
                payload.get("name_latin"),
                *payload.get("aliases", ()),
            ]
        ),
        countries=(payload["country"],),
        prefecture=payload.get("address", {}).get("prefecture"),
        category=payload["category"],
        corporate_numbers=_distinct([payload.get("corporate_number")]),
        licences=_distinct(licence["number"] for licence in payload.get("licences", ())),
    )


def _school(payload: Mapping[str, Any]) -> SearchFields:
    school = payload["school"]
    return SearchFields(
        names=_distinct([school["name"], school.get("name_latin")]),
        countries=_distinct(
            [
                payload.get("arrest", {}).get("nationality"),
                payload.get("visa_screening", {}).get("consulate_country"),
            ]
        ),
        prefecture=school["prefecture"],
        category=payload["finding"],
        corporate_numbers=_distinct([school.get("operator_corporate_number")]),
        licences=(),
        card_tokens=_distinct([payload.get("arrest", {}).get("residence_card_token")]),
    )


def _illegal_employment(payload: Mapping[str, Any]) -> SearchFields:
    employer = payload["employer"]
    return SearchFields(
        names=_distinct(
            [employer["name"], *(broker["name"] for broker in payload.get("brokers", ()))]
        ),
        countries=_distinct(entry["country"] for entry in payload["workers"]["nationalities"]),
        prefecture=employer["prefecture"],
        category=employer["industry"],
        corporate_numbers=_distinct([employer.get("corporate_number")]),
        licences=(),
        card_tokens=_distinct(payload.get("forged_cards", {}).get("tokens", ())),
    )


_PROJECTIONS: Mapping[str, Callable[[Mapping[str, Any]], SearchFields]] = {
    "broker/1": _broker,
    "school/1": _school,
    "illegal_employment/1": _illegal_employment,
}


def search_fields(envelope: Mapping[str, Any]) -> SearchFields:
    """The search facts of an envelope that validate_envelope has accepted."""
    return _PROJECTIONS[envelope["schema"]](envelope["payload"])
