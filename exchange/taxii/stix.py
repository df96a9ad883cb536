"""Record versions as STIX 2.1 objects: a threat actor or an identity, its location, notes.

Plain dictionaries, deterministic in every byte: ids are derived from the record id and the
object's role, so every version of a record yields new versions of the same objects.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from keys.jcs import canonicalize

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:exchange:stix")

# When the exchange's shared objects (its identity, extension and markings) were defined:
# before any record, so that they come first in every collection by date added too.
DEFINED_AT = datetime(2026, 11, 1, tzinfo=UTC)

# STIX 2.1 §7.2.1.4: the predefined TLP 1.0 marking definitions, known to every consumer.
TLP_AMBER = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
TLP_RED = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"


def stix_id(object_type: str, name: str) -> str:
    """The UUIDv5 hash of ``name`` under the exchange's namespace, marked as version 4.

    STIX 2.1 §2.9 recommends UUIDv4 for SDOs, and the OASIS validator's strict schema
    requires it; a hash-derived v4 is as unpredictable as a random one, and stable.
    """
    derived = uuid.UUID(bytes=uuid.uuid5(NAMESPACE, name).bytes, version=4)
    return f"{object_type}--{derived}"


EXCHANGE_IDENTITY = stix_id("identity", "exchange")
EXTENSION_ID = stix_id("extension-definition", "exchange/record-envelope/1")

RESTRICTION_STATEMENTS = {
    "no_onward_sharing": "Not to be shared beyond the receiving agency.",
    "no_court_use_without_consent": "Not to be used in court without the publisher's consent.",
    "no_foreign_disclosure_without_consent": (
        "Not to be disclosed to a foreign government without the publisher's consent."
    ),
}


def restriction_marking_id(code: str) -> str:
    return stix_id("marking-definition", f"restriction/{code}")


def timestamp(moment: datetime) -> str:
    # STIX 2.1 §3.2: created and modified are precise to the millisecond.
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _day(value: str) -> str:
    return timestamp(datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC))


def _common(object_type: str, *, created: str) -> dict[str, Any]:
    return {
        "type": object_type,
        "spec_version": "2.1",
        "id": "",
        "created": created,
        "modified": created,
    }


def shared_objects() -> list[dict[str, Any]]:
    """The exchange's identity, its extension definition and its restriction markings."""
    created = timestamp(DEFINED_AT)
    identity = _common("identity", created=created) | {
        "id": EXCHANGE_IDENTITY,
        "name": "Inter-agency information-sharing exchange",
        "identity_class": "system",
        "sectors": ["government-national"],
    }
    extension = _common("extension-definition", created=created) | {
        "id": EXTENSION_ID,
        "created_by_ref": EXCHANGE_IDENTITY,
        "name": "Exchange signed record",
        "description": (
            "The record version this object was derived from, as its publisher signed it. "
            "envelope is the record's RFC 8785 canonical JSON; signature is a JWS with a "
            "detached payload (RFC 7515 appendix F) over those bytes, verifiable with the "
            "publisher's keys at jwks; receipt is the exchange's JWS acknowledging it."
        ),
        "schema": (
            "Properties: record_id, record_type, record_version, publisher (strings or "
            "integer); envelope (string, RFC 8785 JSON); signature and receipt (compact "
            "JWS); jwks (path of the publisher's JWK set on the exchange API); "
            "key_compromised (boolean)."
        ),
        "version": "1.0.0",
        "extension_types": ["property-extension"],
    }
    markings = [
        {
            "type": "marking-definition",
            "spec_version": "2.1",
            "id": restriction_marking_id(code),
            "created": created,
            "created_by_ref": EXCHANGE_IDENTITY,
            "name": f"exchange:{code}",
            "definition_type": "statement",
            "definition": {"statement": statement},
        }
        for code, statement in RESTRICTION_STATEMENTS.items()
    ]
    return [identity, extension, *markings]


@dataclass(frozen=True)
class SignedVersion:
    """A stored record version and what a STIX consumer needs to verify it."""

    envelope: Mapping[str, Any]
    canonical: bytes
    signature: str
    # None before the exchange has received it: what a publisher sends (TAXII Add Objects).
    receipt: str | None
    first_issued_at: datetime
    key_compromised: bool = False


# The STIX types each record type maps to, for match[type] before any row is read.
OBJECT_TYPES = {
    "broker": ("threat-actor", "location", "relationship"),
    "school": ("identity", "location", "relationship", "note"),
    "illegal_employment": ("identity", "location", "relationship", "note"),
}

_PRIMARY = {"broker": "threat-actor", "school": "identity", "illegal_employment": "identity"}

# Industries of illegal_employment/1 in STIX 2.1 §10.16 industry-sector-ov, where one fits.
_SECTORS = {
    "agriculture": "agriculture",
    "construction": "construction",
    "manufacturing": "manufacturing",
    "food_service": "hospitality-leisure",
    "hospitality": "hospitality-leisure",
    "retail": "retail",
    "logistics": "transportation",
    "nursing_care": "healthcare",
}


def object_ids(envelope: Mapping[str, Any]) -> list[str]:
    """The ids of the objects a record version maps to, and of those its other versions
    may have (a location, a note) whatever this payload holds."""
    record_id, record_type = envelope["id"], envelope["type"]
    fixed = [_id(record_id, object_type) for object_type in OBJECT_TYPES[record_type]]
    links = [
        _id(record_id, "relationship", f"broker/{broker['broker_record_id']}")
        for broker in (envelope.get("payload") or {}).get("brokers", ())
        if broker.get("broker_record_id")
    ]
    return fixed + links


def _id(record_id: str, object_type: str, role: str | None = None) -> str:
    return stix_id(object_type, f"{record_id}/{role or object_type}")


def record_objects(version: SignedVersion) -> list[dict[str, Any]]:
    """The STIX objects of one record version, the primary object first."""
    envelope = version.envelope
    record_id, record_type = envelope["id"], envelope["type"]
    created = timestamp(version.first_issued_at)
    # A version is never dated before the record it amends (STIX 2.1 §3.6).
    modified = timestamp(max(_issued_at(envelope), version.first_issued_at))
    handling = envelope["handling"]
    markings = [TLP_RED if handling.get("audience") else TLP_AMBER] + [
        restriction_marking_id(code) for code in handling.get("restrictions", ())
    ]

    def common(object_type: str, role: str | None = None) -> dict[str, Any]:
        stix: dict[str, Any] = {
            "type": object_type,
            "spec_version": "2.1",
            "id": _id(record_id, object_type, role),
            "created": created,
            "modified": modified,
            "object_marking_refs": markings,
        }
        if envelope["status"] == "withdrawn":
            stix["revoked"] = True
        return stix

    payload = envelope["payload"]
    primary = common(_PRIMARY[record_type]) | _PRIMARY_PROPERTIES[record_type](payload)
    primary["external_references"] = [
        {
            "source_name": "exchange",
            "external_id": record_id,
            "description": f"{record_type} record, version {envelope['version']}, "
            f"published by {envelope['publisher']}",
        }
    ]
    extension: dict[str, Any] = {
        "extension_type": "property-extension",
        "record_id": record_id,
        "record_type": record_type,
        "record_version": envelope["version"],
        "publisher": envelope["publisher"],
        # The signed bytes as a string: a consumer that re-serialises JSON cannot change
        # them, and RFC 8785 makes parsing and canonicalising them again a no-op.
        "envelope": version.canonical.decode("utf-8"),
        "signature": version.signature,
        "jwks": f"/api/v1/agencies/{envelope['publisher']}/jwks",
    }
    if version.receipt is not None:
        extension |= {"receipt": version.receipt, "key_compromised": version.key_compromised}
    primary["extensions"] = {EXTENSION_ID: extension}
    objects = [primary]
    place = _place(record_type, payload)
    if place:
        location = common("location") | place
        located = common("relationship") | {
            "relationship_type": "located-at",
            "source_ref": primary["id"],
            "target_ref": location["id"],
        }
        objects += [location, located]
    if record_type in _NOTES:
        note = common("note") | _NOTES[record_type](payload)
        note["object_refs"] = [primary["id"]]
        objects.append(note)
    if record_type == "illegal_employment":
        objects += _broker_links(payload, primary["id"], common)
    return objects


def publication_object(envelope: Mapping[str, Any], *, signature: str) -> dict[str, Any]:
    """The object a publisher adds to a collection: the primary object of its record
    version, whose extension carries the envelope and the publisher's signature.

    The exchange keeps only what is signed; it derives every object it serves again from
    the envelope, once the version is stored and receipted.
    """
    version = SignedVersion(
        envelope=envelope,
        canonical=canonicalize(envelope),
        signature=signature,
        receipt=None,
        first_issued_at=_issued_at(envelope),
    )
    return record_objects(version)[0]


def primary_object_id(record_id: str, record_type: str) -> str:
    """The id of the object a record version maps to first (a threat actor, an identity)."""
    return _id(record_id, _PRIMARY[record_type])


def _issued_at(envelope: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(envelope["issued_at"]).replace("Z", "+00:00"))


def _broker(payload: Mapping[str, Any]) -> dict[str, Any]:
    name = payload["name"]
    others = [payload.get("name_original"), payload.get("name_latin"), *payload.get("aliases", ())]
    aliases = list(dict.fromkeys(a for a in others if a and a != name))
    properties: dict[str, Any] = {
        "name": name,
        "threat_actor_types": ["criminal"],
        "primary_motivation": "personal-gain",
        "resource_level": (
            "individual" if payload.get("category") == "individual_broker" else "organization"
        ),
        "labels": sorted(payload.get("allegations", ())),
    }
    if aliases:
        properties["aliases"] = aliases
    if payload.get("narrative"):
        properties["description"] = payload["narrative"]
    period = payload.get("period") or {}
    if period.get("from"):
        properties["first_seen"] = _day(period["from"])
    if period.get("to"):
        properties["last_seen"] = _day(period["to"])
    return properties


def _school(payload: Mapping[str, Any]) -> dict[str, Any]:
    school = payload["school"]
    properties: dict[str, Any] = {
        "name": school["name"],
        "identity_class": "organization",
        "sectors": ["education"],
        "labels": [payload["finding"]],
    }
    if school.get("name_latin"):
        properties["description"] = school["name_latin"]
    return properties


def _employer(payload: Mapping[str, Any]) -> dict[str, Any]:
    employer = payload["employer"]
    properties: dict[str, Any] = {
        "name": employer["name"],
        "identity_class": "organization",
        "labels": sorted(payload.get("offences", ())),
    }
    sector = _SECTORS.get(employer.get("industry", ""))
    if sector:
        properties["sectors"] = [sector]
    return properties


_PRIMARY_PROPERTIES = {"broker": _broker, "school": _school, "illegal_employment": _employer}


def _place(record_type: str, payload: Mapping[str, Any]) -> dict[str, Any] | None:
    if record_type == "broker":
        country = payload.get("country")
        return {"country": country} if country else None
    where = payload["school"] if record_type == "school" else payload["employer"]
    # ISO 3166-2 subdivision codes of Japan are JP- and the JIS X 0401 prefecture code.
    return {"country": "JP", "administrative_area": f"JP-{where['prefecture']}"}


def _lines(pairs: Sequence[tuple[str, Any]]) -> str:
    return "\n".join(f"{label}: {value}" for label, value in pairs if value not in (None, "", []))


def _school_note(payload: Mapping[str, Any]) -> dict[str, Any]:
    finding = payload["finding"]
    pairs: list[tuple[str, Any]] = [("finding", finding)]
    arrest = payload.get("arrest")
    if arrest:
        # Never the student's residence card token: it identifies a person.
        pairs += [
            ("nationality", arrest.get("nationality")),
            ("arrest date", arrest.get("arrest_date")),
            ("offence category", arrest.get("offence_category")),
            ("arresting agency", arrest.get("arresting_agency")),
        ]
    screening = payload.get("visa_screening")
    if screening:
        period = screening.get("period") or {}
        pairs += [
            ("consulate country", screening.get("consulate_country")),
            ("period", f"{period.get('from', '')}/{period.get('to', '')}"),
            ("applicants screened", screening.get("applicants_screened")),
            ("nonconforming", screening.get("nonconforming")),
            ("reasons", ", ".join(screening.get("reasons", ()))),
        ]
    return {"abstract": finding, "content": _lines(pairs)}


def _employment_note(payload: Mapping[str, Any]) -> dict[str, Any]:
    workers = payload.get("workers") or {}
    nationalities = ", ".join(
        f"{n['country']} {n['count']}" for n in workers.get("nationalities", ())
    )
    period = payload.get("period") or {}
    pairs: list[tuple[str, Any]] = [
        ("offences", ", ".join(payload.get("offences", ()))),
        ("workers", workers.get("count")),
        ("nationalities", nationalities),
        ("residence statuses", ", ".join(workers.get("residence_statuses", ()))),
        ("overstaying", workers.get("overstay_count")),
        ("unauthorised activity", workers.get("unauthorised_activity_count")),
        # The count of forged cards only, never their matching tokens.
        ("forged residence cards", (payload.get("forged_cards") or {}).get("count")),
        ("detection", payload.get("detection")),
        ("detected on", payload.get("detected_on")),
        ("period", f"{period.get('from', '')}/{period.get('to', '')}" if period else None),
        ("enforcement", ", ".join(e["kind"] for e in payload.get("enforcement", ()))),
    ]
    return {"abstract": "illegal employment", "content": _lines(pairs)}


_NOTES = {"school": _school_note, "illegal_employment": _employment_note}


def _broker_links(
    payload: Mapping[str, Any], employer_id: str, common: Any
) -> list[dict[str, Any]]:
    links = []
    for broker in payload.get("brokers", ()):
        linked = broker.get("broker_record_id")
        if linked:
            links.append(
                common("relationship", f"broker/{linked}")
                | {
                    "relationship_type": "related-to",
                    "source_ref": employer_id,
                    "target_ref": _id(linked, "threat-actor"),
                }
            )
    return links
