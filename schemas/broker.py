"""broker/1: a malicious broker at home or abroad (comprehensive measures 146 and 147).

Sending and supervising organisations, support organisations, employment agencies and
individual agents, found through trainee hearings, reports, inspections and foreign
governments, and the measures taken against them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow.exceptions import SCHEMA

from schemas import identifiers
from schemas.common import (
    CrossCheckedSchema,
    ErrorCollector,
    PeriodSchema,
    StrictSchema,
    check_municipality_in_prefecture,
)
from schemas.fields import (
    LABEL_MAX,
    NAME_MAX,
    NARRATIVE_MAX,
    Choice,
    Items,
    Object,
    Text,
    corporate_number_field,
    country_field,
    date_field,
    municipality_field,
    prefecture_field,
)

BROKER_CATEGORIES = (
    "sending_organisation",
    "supervising_organisation",
    "registered_support_organisation",
    "employment_agency",
    "individual_broker",
    "other",
)
LICENCE_KINDS = ("supervising_organisation", "registered_support", "employment_agency", "foreign")
# Licences issued under Japanese law (技能実習法, 入管法, 職業安定法): only a Japanese
# entity holds one.
JAPANESE_LICENCE_KINDS = frozenset(
    {"supervising_organisation", "registered_support", "employment_agency"}
)
PROGRAMMES = ("technical_intern", "specified_skilled_worker", "student")
ALLEGATIONS = (
    "excessive_fees",
    "deposit_or_penalty_contract",
    "passport_retention",
    "document_forgery",
    "illegal_work_brokering",
    "human_trafficking",
    "wage_violation",
    "other",
)
SOURCES = (
    "trainee_hearing",
    "organisation_report",
    "onsite_inspection",
    "foreign_government",
    "criminal_investigation",
    "visa_screening",
)
MEASURE_KINDS = (
    "licence_revoked",
    "improvement_order",
    "arrest",
    "visa_refusals",
    "foreign_government_notified",
)


class LicenceSchema(CrossCheckedSchema):
    """A licence or registration the broker holds or held."""

    kind = Choice(
        "Who issued it: a supervising-organisation licence (技能実習法), a registered support "
        "organisation registration (入管法), an employment agency licence (職業安定法), or a "
        "foreign licence.",
        LICENCE_KINDS,
        required=True,
    )
    number = Text(
        "The number as issued; a supervising-organisation licence is 許 and ten digits.",
        max_length=64,
        required=True,
    )

    def check(
        self, data: Mapping[str, Any], original: Mapping[str, Any], errors: ErrorCollector
    ) -> None:
        number = data.get("number")
        if (
            data.get("kind") == "supervising_organisation"
            and number is not None
            and not identifiers.is_supervising_licence(number)
        ):
            errors.add(
                ["number"], "Not a supervising-organisation licence number (許 and ten digits)."
            )


class AddressSchema(CrossCheckedSchema):
    """Where the broker is; codes only for addresses in Japan."""

    prefecture = prefecture_field("Prefecture; required for a broker in Japan.")
    municipality = municipality_field("Municipality, within the prefecture.")
    text = Text("The address as written.", max_length=NAME_MAX)

    def check(
        self, data: Mapping[str, Any], original: Mapping[str, Any], errors: ErrorCollector
    ) -> None:
        if not original:
            errors.add([SCHEMA], "Give a prefecture or the address text.")
        if "municipality" in original and "prefecture" not in original:
            errors.add(["prefecture"], "Required when a municipality is given.")
        check_municipality_in_prefecture(data, errors)


class MeasureSchema(StrictSchema):
    """A measure taken against the broker."""

    kind = Choice("What was done.", MEASURE_KINDS, required=True)
    date = date_field("When.", required=True)
    authority = Text(
        "Who took the measure: an agency of the exchange or a foreign authority.",
        max_length=LABEL_MAX,
        required=True,
    )
    reference = Text("The authority's reference for the measure.", max_length=LABEL_MAX)


class BrokerPayloadSchema(CrossCheckedSchema):
    """Payload of a broker/1 record."""

    name = Text("The name the broker is best known by.", max_length=NAME_MAX, required=True)
    name_original = Text(
        "The name in its original script (katakana, Vietnamese, Burmese, Chinese, …).",
        max_length=NAME_MAX,
    )
    name_latin = Text("The name in Latin letters.", max_length=NAME_MAX)
    aliases = Items(
        Text("Another name.", max_length=NAME_MAX),
        "Other names the broker uses or used.",
        max_items=50,
        unique=True,
    )
    category = Choice("What kind of broker.", BROKER_CATEGORIES, required=True)
    country = country_field("Country where the broker is established.", required=True)
    corporate_number = corporate_number_field("Japanese entities only.")
    licences = Items(
        Object(LicenceSchema, "A licence or registration."),
        "Licences and registrations, Japanese or foreign.",
        max_items=20,
    )
    address = Object(AddressSchema, "Address; required with a prefecture for a broker in Japan.")
    programmes = Items(
        Choice("A residence programme.", PROGRAMMES),
        "Programmes through which the broker placed people.",
        min_items=1,
        max_items=len(PROGRAMMES),
        unique=True,
        required=True,
    )
    allegations = Items(
        Choice("An allegation.", ALLEGATIONS),
        "What the broker is alleged to have done.",
        min_items=1,
        max_items=len(ALLEGATIONS),
        unique=True,
        required=True,
    )
    sources = Items(
        Choice("A source.", SOURCES),
        "How the information was obtained.",
        min_items=1,
        max_items=len(SOURCES),
        unique=True,
        required=True,
    )
    period = Object(PeriodSchema, "When the alleged conduct took place.")
    measures = Items(Object(MeasureSchema, "A measure."), "Measures taken against the broker.")
    narrative = Text(
        "What happened, in the publishing agency's words; no names of individuals.",
        max_length=NARRATIVE_MAX,
        multiline=True,
    )

    def check(
        self, data: Mapping[str, Any], original: Mapping[str, Any], errors: ErrorCollector
    ) -> None:
        country = data.get("country")
        if country is None:
            return  # the rules below depend on the country, whose own error is reported
        domestic = country == "JP"
        if "corporate_number" in data and not domestic:
            errors.add(["corporate_number"], "Issued only to Japanese entities; country is not JP.")
        for index, licence in enumerate(data.get("licences", ())):
            if licence.get("kind") in JAPANESE_LICENCE_KINDS and not domestic:
                errors.add(["licences", index, "kind"], "A Japanese licence; country is not JP.")
        address = original.get("address")
        if domestic and "address" not in original:
            errors.add(["address"], "Required for a broker in Japan.")
        elif domestic and isinstance(address, Mapping) and "prefecture" not in address:
            errors.add(["address", "prefecture"], "Required for a broker in Japan.")
        elif not domestic and isinstance(address, Mapping):
            for code in ("prefecture", "municipality"):
                if code in address:
                    errors.add(["address", code], "JIS codes apply only to addresses in Japan.")
