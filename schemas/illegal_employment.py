"""illegal_employment/1: a case of illegal employment, its facilitators and forged cards
(comprehensive measures 210 and 204).

Workers are counted, never named; forged residence cards appear only as matching tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.common import (
    CrossCheckedSchema,
    ErrorCollector,
    PeriodSchema,
    StrictSchema,
    check_municipality_in_prefecture,
    require_iff,
)
from schemas.fields import (
    LABEL_MAX,
    NAME_MAX,
    REFERENCE_MAX,
    Choice,
    Count,
    Items,
    Object,
    ResidenceCardToken,
    Text,
    WebUrl,
    corporate_number_field,
    country_field,
    date_field,
    municipality_field,
    prefecture_field,
    record_id_field,
)

INDUSTRIES = (
    "agriculture",
    "construction",
    "manufacturing",
    "food_service",
    "retail",
    "hospitality",
    "cleaning",
    "logistics",
    "fishery",
    "nursing_care",
    "other",
)
# Statuses of residence (在留資格) by their official English names; 短期滞在 is
# "Temporary Visitor". "none": illegal entry, or a status lost by overstaying.
RESIDENCE_STATUSES = (
    "technical_intern_training",
    "specified_skilled_worker",
    "engineer_humanities_international",
    "student",
    "designated_activities",
    "dependent",
    "temporary_visitor",
    "none",
)
# Immigration Control Act (入管法) art. 73-2(1) items 1-3: having foreigners work illegally,
# placing them under one's control for it, and brokering either as a business.
OFFENCES = (
    "facilitation_employing",
    "facilitation_control",
    "facilitation_brokering",
    "illegal_work",
    "forged_residence_card",
    "labour_law_violation",
)
DETECTIONS = (
    "inspection",
    "tip",
    "online_advert",
    "joint_operation",
    "arrest",
    "notification_mismatch",
)
ENFORCEMENT_KINDS = (
    "arrest",
    "referral_to_prosecutors",
    "deportation_order",
    "administrative_guidance",
    "corrective_recommendation",
    "business_suspension",
)
FORGED_CARDS_MAX = 1_000


class EmployerSchema(CrossCheckedSchema):
    """The business that employed the workers."""

    name = Text("The employer's name.", max_length=NAME_MAX, required=True)
    corporate_number = corporate_number_field("When the employer is a corporation.")
    prefecture = prefecture_field("Where the work took place.", required=True)
    municipality = municipality_field("Where the work took place, within the prefecture.")
    industry = Choice("The employer's industry.", INDUSTRIES, required=True)

    def check(
        self, data: Mapping[str, Any], original: Mapping[str, Any], errors: ErrorCollector
    ) -> None:
        check_municipality_in_prefecture(data, errors)


class BrokerReferenceSchema(StrictSchema):
    """A broker involved in the case."""

    name = Text("The broker's name.", max_length=NAME_MAX, required=True)
    broker_record_id = record_id_field("The broker/1 record about this broker, if any.")


class NationalityCountSchema(StrictSchema):
    """How many of the workers hold one nationality."""

    country = country_field("Nationality.", required=True)
    count = Count("Workers of this nationality.", minimum=1, required=True)


class WorkersSchema(CrossCheckedSchema):
    """The illegally employed workers, counted, never named."""

    count = Count("Workers found.", minimum=1, required=True)
    nationalities = Items(
        Object(NationalityCountSchema, "One nationality and its count."),
        "Workers by nationality; each country once; together at most count.",
        min_items=1,
        required=True,
    )
    residence_statuses = Items(
        Choice("A status of residence; none for people without one.", RESIDENCE_STATUSES),
        "Statuses of residence the workers held.",
        min_items=1,
        max_items=len(RESIDENCE_STATUSES),
        unique=True,
        required=True,
    )
    overstay_count = Count("Workers who had overstayed; at most count.", required=True)
    unauthorised_activity_count = Count(
        "Workers working outside their status (資格外活動); at most count.", required=True
    )

    def check(
        self, data: Mapping[str, Any], original: Mapping[str, Any], errors: ErrorCollector
    ) -> None:
        count = data.get("count")
        nationalities = data.get("nationalities", ())
        seen: set[str] = set()
        for index, entry in enumerate(nationalities):
            if entry["country"] in seen:
                errors.add(["nationalities", index, "country"], "Listed more than once.")
            seen.add(entry["country"])
        if count is None:
            return
        listed = sum(entry["count"] for entry in nationalities)
        if listed > count:
            errors.add(["nationalities"], f"Counts add up to {listed}, more than count.")
        for member in ("overstay_count", "unauthorised_activity_count"):
            if data.get(member, 0) > count:
                errors.add([member], "Must not exceed count.")


class ForgedCardsSchema(CrossCheckedSchema):
    """Forged residence cards found."""

    count = Count("Forged cards found.", minimum=1, maximum=FORGED_CARDS_MAX, required=True)
    tokens = Items(
        ResidenceCardToken("Matching token of the number a forged card bears."),
        "Matching tokens of the numbers on the cards; at most count.",
        max_items=FORGED_CARDS_MAX,
        unique=True,
    )

    def check(
        self, data: Mapping[str, Any], original: Mapping[str, Any], errors: ErrorCollector
    ) -> None:
        if "count" in data and len(data.get("tokens", ())) > data["count"]:
            errors.add(["tokens"], "More tokens than cards.")


class OnlineAdvertSchema(StrictSchema):
    """A job advert online that led to or documents the illegal employment."""

    platform = Text("Site or app.", max_length=REFERENCE_MAX, required=True)
    url = WebUrl("Address of the advert (http or https).", required=True)
    observed_on = date_field("Day the advert was seen.", required=True)


class EnforcementSchema(StrictSchema):
    """An enforcement action taken in the case."""

    kind = Choice("What was done.", ENFORCEMENT_KINDS, required=True)
    date = date_field("When.", required=True)
    authority = Text("Who took the action.", max_length=LABEL_MAX, required=True)


class IllegalEmploymentPayloadSchema(CrossCheckedSchema):
    """Payload of an illegal_employment/1 record."""

    employer = Object(EmployerSchema, "The employer.", required=True)
    brokers = Items(
        Object(BrokerReferenceSchema, "A broker."),
        "Brokers who placed the workers (art. 73-2(1)(iii)).",
        max_items=50,
    )
    workers = Object(WorkersSchema, "The workers.", required=True)
    offences = Items(
        Choice("An offence.", OFFENCES),
        "Offences found; the facilitation ones are Immigration Control Act art. 73-2(1) items 1-3.",
        min_items=1,
        max_items=len(OFFENCES),
        unique=True,
        required=True,
    )
    forged_cards = Object(
        ForgedCardsSchema, "Required exactly when the offences include forged_residence_card."
    )
    detection = Choice("How the case came to light.", DETECTIONS, required=True)
    online_adverts = Items(
        Object(OnlineAdvertSchema, "An advert."),
        "Adverts found online; at least one when detection is online_advert.",
        max_items=50,
    )
    period = Object(PeriodSchema, "When the illegal employment took place.")
    detected_on = date_field("Day the case was detected.", required=True)
    enforcement = Items(Object(EnforcementSchema, "An action."), "Enforcement taken.")

    def check(
        self, data: Mapping[str, Any], original: Mapping[str, Any], errors: ErrorCollector
    ) -> None:
        offences = data.get("offences")
        if offences is not None:
            forged = "forged_residence_card" in offences
            when = "offences include forged_residence_card"
            require_iff(original, "forged_cards", forged, when, errors)
        if data.get("detection") == "online_advert" and not original.get("online_adverts"):
            errors.add(
                ["online_adverts"], "At least one is required when detection is online_advert."
            )
