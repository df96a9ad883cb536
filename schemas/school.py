"""school/1: a Japanese-language school behind an arrest or a visa-screening finding
(comprehensive measure 197: NPA → Justice and MOFA; MOFA → Justice).

The record is about the school. It never names a student: there is no field for a name,
and a residence card appears only as its matching token.
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
    NAME_MAX,
    REFERENCE_MAX,
    Choice,
    Count,
    Items,
    Object,
    ResidenceCardToken,
    Text,
    agency_id_field,
    corporate_number_field,
    country_field,
    date_field,
    municipality_field,
    prefecture_field,
)

SCHOOL_STATUSES = ("kokuji", "mext_certified", "unknown")
FINDINGS = ("arrested_student", "visa_screening_nonconformity")
OFFENCE_CATEGORIES = (
    "theft",
    "fraud",
    "drugs",
    "illegal_work",
    "immigration_violation",
    "violence",
    "other",
)
NONCONFORMITY_REASONS = (
    "forged_documents",
    "financial_evidence_doubtful",
    "language_ability_doubtful",
    "prior_violations",
    "other",
)


class SchoolSchema(CrossCheckedSchema):
    """The school the finding is about."""

    name = Text("The school's name as registered.", max_length=NAME_MAX, required=True)
    name_latin = Text("The name in Latin letters.", max_length=NAME_MAX)
    operator_corporate_number = corporate_number_field("The operating corporation.")
    prefecture = prefecture_field("Where the school is.", required=True)
    municipality = municipality_field("Where the school is, within the prefecture.")
    status = Choice(
        "kokuji: on the Justice Ministry's public notice (告示校); mext_certified: certified "
        "by MEXT as a 認定日本語教育機関 (since April 2024).",
        SCHOOL_STATUSES,
        required=True,
    )

    def check(
        self, data: Mapping[str, Any], original: Mapping[str, Any], errors: ErrorCollector
    ) -> None:
        check_municipality_in_prefecture(data, errors)


class ArrestSchema(StrictSchema):
    """An arrest of one of the school's students; never the student's name."""

    nationality = country_field("The student's nationality.", required=True)
    arrest_date = date_field("Day of the arrest.", required=True)
    offence_category = Choice("Kind of offence.", OFFENCE_CATEGORIES, required=True)
    arresting_agency = agency_id_field("The police agency that made the arrest.", required=True)
    case_reference = Text(
        "The arresting agency's case reference.", max_length=REFERENCE_MAX, required=True
    )
    residence_card_token = ResidenceCardToken(
        "Matching token of the student's residence card, never the number."
    )


class VisaScreeningSchema(CrossCheckedSchema):
    """Applicants for the school who did not meet the visa requirements at a consulate."""

    consulate_country = country_field("Country of the consulate that screened.", required=True)
    period = Object(PeriodSchema, "The screening period.", required=True)
    applicants_screened = Count("Applicants screened.", minimum=1, required=True)
    nonconforming = Count("Applicants who did not conform; at most those screened.", required=True)
    reasons = Items(
        Choice("A reason.", NONCONFORMITY_REASONS),
        "Why applications did not conform.",
        min_items=1,
        max_items=len(NONCONFORMITY_REASONS),
        unique=True,
        required=True,
    )

    def check(
        self, data: Mapping[str, Any], original: Mapping[str, Any], errors: ErrorCollector
    ) -> None:
        if data.get("consulate_country") == "JP":
            errors.add(["consulate_country"], "Visa screening takes place abroad; not JP.")
        screened = data.get("applicants_screened")
        nonconforming = data.get("nonconforming")
        if screened is not None and nonconforming is not None and nonconforming > screened:
            errors.add(["nonconforming"], "Must not exceed applicants_screened.")


class SchoolPayloadSchema(CrossCheckedSchema):
    """Payload of a school/1 record."""

    school = Object(SchoolSchema, "The school.", required=True)
    finding = Choice("What was found.", FINDINGS, required=True)
    arrest = Object(ArrestSchema, "Required when the finding is arrested_student, else absent.")
    visa_screening = Object(
        VisaScreeningSchema,
        "Required when the finding is visa_screening_nonconformity, else absent.",
    )

    def check(
        self, data: Mapping[str, Any], original: Mapping[str, Any], errors: ErrorCollector
    ) -> None:
        finding = data.get("finding")
        if finding is None:
            return
        arrested = finding == "arrested_student"
        require_iff(original, "arrest", arrested, "finding is arrested_student", errors)
        require_iff(
            original,
            "visa_screening",
            not arrested,
            "finding is visa_screening_nonconformity",
            errors,
        )
