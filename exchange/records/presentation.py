"""What the words of a record mean to a reader: labels of fields and of coded values.

Payloads and envelopes use JSON keys and enumerated codes (DESIGN §3, §4); pages never
show those raw. Every label here is a translatable message (English is the msgid,
Japanese the default language).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask_babel import lazy_gettext as _l

RECORD_TYPES: Mapping[str, Any] = {
    "broker": _l("Broker"),
    "school": _l("Japanese-language school"),
    "illegal_employment": _l("Illegal employment"),
}
STATUSES: Mapping[str, Any] = {"active": _l("Current"), "withdrawn": _l("Withdrawn")}
PURPOSES: Mapping[str, Any] = {
    "investigation": _l("Investigation"),
    "visa_screening": _l("Visa screening"),
    "residence_screening": _l("Residence screening"),
    "administrative_disposition": _l("Administrative disposition"),
    "labour_inspection": _l("Labour inspection"),
    "licensing": _l("Licensing"),
    "statistics": _l("Statistics"),
    "audit": _l("Audit"),
}
AGENCY_KINDS: Mapping[str, Any] = {
    "police": _l("Police"),
    "immigration": _l("Immigration"),
    "labour": _l("Labour administration"),
    "otit": _l("OTIT"),
    "mext": _l("MEXT"),
    "mofa": _l("MOFA"),
}
BROKER_CATEGORIES: Mapping[str, Any] = {
    "sending_organisation": _l("Sending organisation"),
    "supervising_organisation": _l("Supervising organisation"),
    "registered_support_organisation": _l("Registered support organisation"),
    "employment_agency": _l("Employment agency"),
    "individual_broker": _l("Individual broker"),
    "other": _l("Other"),
}
FINDINGS: Mapping[str, Any] = {
    "arrested_student": _l("Arrested student"),
    "visa_screening_nonconformity": _l("Visa screening nonconformity"),
}
INDUSTRIES: Mapping[str, Any] = {
    "agriculture": _l("Agriculture"),
    "construction": _l("Construction"),
    "manufacturing": _l("Manufacturing"),
    "food_service": _l("Food service"),
    "retail": _l("Retail"),
    "hospitality": _l("Hospitality"),
    "cleaning": _l("Cleaning"),
    "logistics": _l("Logistics"),
    "fishery": _l("Fishery"),
    "nursing_care": _l("Nursing care"),
    "other": _l("Other"),
}
ALLEGATIONS: Mapping[str, Any] = {
    "excessive_fees": _l("Excessive fees"),
    "deposit_or_penalty_contract": _l("Deposit or penalty contract"),
    "passport_retention": _l("Passport retention"),
    "document_forgery": _l("Document forgery"),
    "illegal_work_brokering": _l("Brokering illegal work"),
    "human_trafficking": _l("Human trafficking"),
    "wage_violation": _l("Wage violation"),
    "other": _l("Other"),
}
OFFENCES: Mapping[str, Any] = {
    "facilitation_employing": _l("Facilitating illegal work: employing (art. 73-2(1)(i))"),
    "facilitation_control": _l("Facilitating illegal work: control (art. 73-2(1)(ii))"),
    "facilitation_brokering": _l("Facilitating illegal work: brokering (art. 73-2(1)(iii))"),
    "illegal_work": _l("Illegal work"),
    "forged_residence_card": _l("Forged residence card"),
    "labour_law_violation": _l("Labour law violation"),
}
PROGRAMMES: Mapping[str, Any] = {
    "technical_intern": _l("Technical intern training"),
    "specified_skilled_worker": _l("Specified skilled worker"),
    "student": _l("Student"),
}
SOURCES: Mapping[str, Any] = {
    "trainee_hearing": _l("Trainee hearing"),
    "organisation_report": _l("Organisation report"),
    "onsite_inspection": _l("On-site inspection"),
    "foreign_government": _l("Foreign government"),
    "criminal_investigation": _l("Criminal investigation"),
    "visa_screening": _l("Visa screening"),
}
MEASURE_KINDS: Mapping[str, Any] = {
    "licence_revoked": _l("Licence revoked"),
    "improvement_order": _l("Improvement order"),
    "arrest": _l("Arrest"),
    "visa_refusals": _l("Visa refusals"),
    "foreign_government_notified": _l("Foreign government notified"),
}
LICENCE_KINDS: Mapping[str, Any] = {
    "supervising_organisation": _l("Supervising organisation licence"),
    "registered_support": _l("Registered support organisation registration"),
    "employment_agency": _l("Employment agency licence"),
    "foreign": _l("Foreign licence"),
}
SCHOOL_STATUSES: Mapping[str, Any] = {
    "kokuji": _l("Listed in the public notice (kokuji)"),
    "mext_certified": _l("MEXT-certified institution"),
    "unknown": _l("Unknown"),
}
OFFENCE_CATEGORIES: Mapping[str, Any] = {
    "theft": _l("Theft"),
    "fraud": _l("Fraud"),
    "drugs": _l("Drugs"),
    "illegal_work": _l("Illegal work"),
    "immigration_violation": _l("Immigration violation"),
    "violence": _l("Violence"),
    "other": _l("Other"),
}
NONCONFORMITY_REASONS: Mapping[str, Any] = {
    "forged_documents": _l("Forged documents"),
    "financial_evidence_doubtful": _l("Doubtful financial evidence"),
    "language_ability_doubtful": _l("Doubtful language ability"),
    "prior_violations": _l("Prior violations"),
    "other": _l("Other"),
}
RESIDENCE_STATUSES: Mapping[str, Any] = {
    "technical_intern_training": _l("Technical Intern Training"),
    "specified_skilled_worker": _l("Specified Skilled Worker"),
    "engineer_humanities_international": _l(
        "Engineer/Specialist in Humanities/International Services"
    ),
    "student": _l("Student"),
    "designated_activities": _l("Designated Activities"),
    "dependent": _l("Dependent"),
    "temporary_visitor": _l("Temporary Visitor"),
    "none": _l("No status of residence"),
}
DETECTIONS: Mapping[str, Any] = {
    "inspection": _l("Inspection"),
    "tip": _l("Tip-off"),
    "online_advert": _l("Online advert"),
    "joint_operation": _l("Joint operation"),
    "arrest": _l("Arrest"),
    "notification_mismatch": _l("Notification mismatch"),
}
ENFORCEMENT_KINDS: Mapping[str, Any] = {
    "arrest": _l("Arrest"),
    "referral_to_prosecutors": _l("Referral to prosecutors"),
    "deportation_order": _l("Deportation order"),
    "administrative_guidance": _l("Administrative guidance"),
    "corrective_recommendation": _l("Corrective recommendation"),
    "business_suspension": _l("Business suspension"),
}
RESTRICTIONS: Mapping[str, Any] = {
    "no_onward_sharing": _l("No onward sharing"),
    "no_court_use_without_consent": _l("No use in court without consent"),
    "no_foreign_disclosure_without_consent": _l("No disclosure abroad without consent"),
}
# Europol 4x4 evaluation.
SOURCE_RELIABILITY: Mapping[str, Any] = {
    "A": _l("A: no doubt about the source"),
    "B": _l("B: source mostly reliable"),
    "C": _l("C: source mostly unreliable"),
    "X": _l("X: reliability cannot be judged"),
}
INFORMATION_ACCURACY: Mapping[str, Any] = {
    "1": _l("1: known to be true without reservation"),
    "2": _l("2: known personally to the source"),
    "3": _l("3: corroborated, not known personally to the source"),
    "4": _l("4: accuracy cannot be judged"),
}
LINK_RELATIONS: Mapping[str, Any] = {
    "broker": _l("Broker"),
    "school": _l("School"),
    "illegal_employment": _l("Illegal employment case"),
    "related": _l("Related"),
    "supersedes": _l("Supersedes"),
}
FILTER_NAMES: Mapping[str, Any] = {
    "publisher": _l("Publisher"),
    "publisher_kind": _l("Publisher kind"),
    "country": _l("Country"),
    "prefecture": _l("Prefecture"),
    "category": _l("Category"),
    "allegation": _l("Allegation or offence"),
    "programme": _l("Programme"),
    "status": _l("Status"),
}

# Coded values by the member that holds them: (parent member, member) first, then member.
VALUE_LABELS: Mapping[tuple[str, ...], Mapping[str, Any]] = {
    ("licences", "kind"): LICENCE_KINDS,
    ("measures", "kind"): MEASURE_KINDS,
    ("enforcement", "kind"): ENFORCEMENT_KINDS,
    ("school", "status"): SCHOOL_STATUSES,
    ("evaluation", "source"): SOURCE_RELIABILITY,
    ("evaluation", "information"): INFORMATION_ACCURACY,
    ("links", "rel"): LINK_RELATIONS,
    ("type",): RECORD_TYPES,
    ("status",): STATUSES,
    ("category",): BROKER_CATEGORIES,
    ("finding",): FINDINGS,
    ("industry",): INDUSTRIES,
    ("allegations",): ALLEGATIONS,
    ("offences",): OFFENCES,
    ("programmes",): PROGRAMMES,
    ("sources",): SOURCES,
    ("offence_category",): OFFENCE_CATEGORIES,
    ("reasons",): NONCONFORMITY_REASONS,
    ("residence_statuses",): RESIDENCE_STATUSES,
    ("detection",): DETECTIONS,
    ("restrictions",): RESTRICTIONS,
}

FIELD_LABELS: Mapping[str, Any] = {
    # envelope
    "type": _l("Record type"),
    "schema": _l("Schema"),
    "version": _l("Version"),
    "status": _l("Status"),
    "reason": _l("Reason for withdrawal"),
    "publisher": _l("Publisher"),
    "issued_at": _l("Issued at"),
    "handling": _l("Handling"),
    "audience": _l("Audience"),
    "restrictions": _l("Restrictions on use"),
    "legal_basis": _l("Legal basis"),
    "retention_until": _l("Keep until"),
    "evaluation": _l("Evaluation"),
    "source": _l("Source reliability"),
    "information": _l("Information accuracy"),
    "links": _l("Links"),
    "rel": _l("Relation"),
    "id": _l("Record"),
    # broker/1
    "name": _l("Name"),
    "name_original": _l("Name in original script"),
    "name_latin": _l("Name in Latin letters"),
    "aliases": _l("Aliases"),
    "category": _l("Category"),
    "country": _l("Country"),
    "corporate_number": _l("Corporate number"),
    "licences": _l("Licences and registrations"),
    "kind": _l("Kind"),
    "number": _l("Number"),
    "address": _l("Address"),
    "prefecture": _l("Prefecture"),
    "municipality": _l("Municipality code"),
    "text": _l("Address as written"),
    "programmes": _l("Programmes"),
    "allegations": _l("Allegations"),
    "sources": _l("Sources"),
    "period": _l("Period"),
    "from": _l("From"),
    "to": _l("To"),
    "measures": _l("Measures taken"),
    "date": _l("Date"),
    "authority": _l("Authority"),
    "reference": _l("Reference"),
    "narrative": _l("Narrative"),
    # school/1
    "school": _l("School"),
    "operator_corporate_number": _l("Operator's corporate number"),
    "finding": _l("Finding"),
    "arrest": _l("Arrest"),
    "nationality": _l("Nationality"),
    "arrest_date": _l("Date of arrest"),
    "offence_category": _l("Offence category"),
    "arresting_agency": _l("Arresting agency"),
    "case_reference": _l("Case reference"),
    "residence_card_token": _l("Residence card (matching token)"),
    "visa_screening": _l("Visa screening"),
    "consulate_country": _l("Country of the consulate"),
    "applicants_screened": _l("Applicants screened"),
    "nonconforming": _l("Nonconforming applicants"),
    "reasons": _l("Reasons"),
    # illegal_employment/1
    "employer": _l("Employer"),
    "industry": _l("Industry"),
    "brokers": _l("Brokers"),
    "broker_record_id": _l("Broker record"),
    "workers": _l("Workers"),
    "count": _l("Count"),
    "nationalities": _l("Nationalities"),
    "residence_statuses": _l("Statuses of residence"),
    "overstay_count": _l("Overstayers"),
    "unauthorised_activity_count": _l("Working outside their status"),
    "offences": _l("Offences"),
    "forged_cards": _l("Forged residence cards"),
    "tokens": _l("Matching tokens"),
    "detection": _l("How it came to light"),
    "online_adverts": _l("Online adverts"),
    "platform": _l("Platform"),
    "url": _l("Address (URL)"),
    "observed_on": _l("Seen on"),
    "detected_on": _l("Detected on"),
    "enforcement": _l("Enforcement taken"),
}

# Members whose value is a country, a prefecture, an agency or a record id.
COUNTRY_MEMBERS = frozenset({"country", "nationality", "consulate_country"})
PREFECTURE_MEMBERS = frozenset({"prefecture"})
# An authority is free text, often an agency id: a known id is shown by name.
AGENCY_MEMBERS = frozenset({"publisher", "arresting_agency", "audience", "authority"})
RECORD_MEMBERS = frozenset({"broker_record_id"})
TOKEN_MEMBERS = frozenset({"residence_card_token", "tokens"})


def field_label(member: str) -> Any:
    return FIELD_LABELS.get(member, member.replace("_", " "))


def value_vocabulary(path: Sequence[str]) -> Mapping[str, Any] | None:
    """The labels of a coded member at ``path`` (member names only, no list indexes)."""
    if len(path) >= 2 and (found := VALUE_LABELS.get((path[-2], path[-1]))) is not None:
        return found
    return VALUE_LABELS.get((path[-1],)) if path else None


def label_of(vocabulary: Mapping[str, Any], code: str | None) -> str:
    """A code's label; a code no vocabulary knows is shown as it is, never hidden."""
    if code is None:
        return ""
    return str(vocabulary.get(code, code))


def category_vocabulary(record_type: str | None) -> Mapping[str, Any]:
    """What ``record.category`` holds for a type: broker category, finding or industry."""
    return {"broker": BROKER_CATEGORIES, "school": FINDINGS}.get(record_type or "", INDUSTRIES)


def category_label(record_type: str | None, code: str | None) -> str:
    return label_of(category_vocabulary(record_type), code)
