"""Agencies and their systems."""

from __future__ import annotations

import re

from sqlalchemy import select

from exchange.agencies.models import AGENCY_KINDS, Agency, System
from exchange.agencies.policy import PURPOSES
from exchange.auth.actor import Actor
from exchange.clock import utcnow
from exchange.errors import Kind, Refusal
from exchange.extensions import db

AGENCY_ID = re.compile(r"^[a-z][a-z0-9-]{1,31}$")
SYSTEM_NAME = re.compile(r"^[a-z][a-z0-9-]{1,63}$")
SYSTEM_ROLES = ("auditor",)


def get_agency(agency_id: str) -> Agency:
    agency = db.session.get(Agency, agency_id)
    if agency is None:
        raise Refusal(
            Kind.NOT_FOUND, "agency_not_found", "No such agency", f"No agency {agency_id!r}."
        )
    return agency


def list_agencies() -> list[Agency]:
    return list(db.session.scalars(select(Agency).order_by(Agency.id)))


def create_agency(
    *,
    actor: Actor,
    agency_id: str,
    kind: str,
    name_ja: str,
    name_en: str,
    parent_id: str | None = None,
) -> Agency:
    if not AGENCY_ID.match(agency_id):
        raise Refusal(Kind.INVALID, "agency_invalid", "Invalid agency id", "Use a-z, 0-9 and '-'.")
    if kind not in AGENCY_KINDS:
        raise Refusal(
            Kind.INVALID, "agency_invalid", "Invalid agency kind", f"One of {AGENCY_KINDS}."
        )
    if db.session.get(Agency, agency_id) is not None:
        raise Refusal(
            Kind.CONFLICT, "agency_exists", "Agency exists", f"{agency_id!r} already exists."
        )
    if parent_id is not None:
        get_agency(parent_id)
    agency = Agency(
        id=agency_id,
        kind=kind,
        name_ja=name_ja,
        name_en=name_en,
        parent_id=parent_id,
        created_at=utcnow(),
    )
    db.session.add(agency)
    db.session.flush()
    return agency


def agency_lineage(agency_id: str) -> tuple[str, ...]:
    """The agency and its ancestors, nearest first."""
    lineage: list[str] = []
    current: str | None = agency_id
    while current is not None and current not in lineage:
        lineage.append(current)
        current = db.session.scalar(select(Agency.parent_id).where(Agency.id == current))
    return tuple(lineage)


def system_actor(
    *,
    agency_id: str,
    agency_kind: str,
    agency_parent: str | None,
    system_id: int,
    system_name: str,
    roles: str,
    fingerprint: str | None = None,
    address: str | None = None,
) -> Actor:
    """The acting identity of an agency system."""
    return Actor(
        kind="system",
        agency_id=agency_id,
        agency_kind=agency_kind,
        system_id=system_id,
        system_name=system_name,
        fingerprint=fingerprint,
        address=address,
        roles=frozenset(roles.split()),
        # Most agencies have no parent: only then is the hierarchy walked.
        agency_lineage=(agency_lineage(agency_id) if agency_parent is not None else (agency_id,)),
    )


def get_system(agency_id: str, name: str) -> System:
    system: System | None = db.session.scalar(
        select(System).where(System.agency_id == agency_id, System.name == name)
    )
    if system is None:
        raise Refusal(
            Kind.NOT_FOUND, "system_not_found", "No such system", f"No system {agency_id}/{name}."
        )
    return system


def create_system(
    *, actor: Actor, agency_id: str, name: str, roles: tuple[str, ...] = ()
) -> System:
    get_agency(agency_id)
    if not SYSTEM_NAME.match(name):
        raise Refusal(
            Kind.INVALID, "system_invalid", "Invalid system name", "Use a-z, 0-9 and '-'."
        )
    unknown = set(roles) - set(SYSTEM_ROLES)
    if unknown:
        raise Refusal(Kind.INVALID, "system_invalid", "Unknown role", ", ".join(sorted(unknown)))
    existing = db.session.scalar(
        select(System).where(System.agency_id == agency_id, System.name == name)
    )
    if existing is not None:
        raise Refusal(
            Kind.CONFLICT, "system_exists", "System exists", f"{agency_id}/{name} exists."
        )
    system = System(agency_id=agency_id, name=name, roles=" ".join(roles), created_at=utcnow())
    db.session.add(system)
    db.session.flush()  # assigns system.id for the certificate row
    return system


def list_systems(agency_id: str | None = None) -> list[System]:
    query = select(System).order_by(System.agency_id, System.name)
    if agency_id is not None:
        query = query.where(System.agency_id == agency_id)
    return list(db.session.scalars(query))


def set_standing_purpose(*, actor: Actor, system: System, purpose: str | None) -> System:
    """The purpose of the system's reads that state none (DESIGN §11); None removes it."""
    if purpose is not None and purpose not in PURPOSES:
        raise Refusal(
            Kind.INVALID, "purpose_invalid", "Unknown purpose", f"One of: {', '.join(PURPOSES)}."
        )
    system.standing_purpose = purpose
    db.session.flush()
    return system
