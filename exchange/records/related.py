"""Records that concern the same organisation as another, found through the sharing policy.

Two records are about the same organisation when they share a corporate number or a
licence number, or when one of the organisation's names folds (``normalize.fold``) to one
of the other's in the same country. Only the organisation a record is about counts — a
broker, a school, an employer — not organisations it merely mentions.

Names are looked up through ``search_records`` (the text index, with the policy applied),
identifiers through the records' tags (``record_tag``, exchange.records.tags): both are
index look-ups.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select

from exchange.auth.actor import Actor
from exchange.extensions import db
from exchange.records.disposed import DISPOSED
from exchange.records.models import Record, RecordVersion
from exchange.records.normalize import fold
from exchange.records.reading import SearchQuery, readable_conditions, search_records, tagged
from exchange.records.tags import CORPORATE_NUMBER, LICENCE, licence_value
from schemas import search_fields

# How many names of a record are looked up, and how many matches are shown.
NAMES_LOOKED_UP = 3
MATCHES_SHOWN = 20


@dataclass(frozen=True)
class Organisation:
    """The organisation a record is about: its folded names, country and identifiers."""

    names: frozenset[str]
    country: str
    # (kind, value) as record tags hold them (exchange.records.tags).
    identifiers: frozenset[tuple[str, str]]
    looked_up: tuple[str, ...]


@dataclass(frozen=True)
class RelatedRecord:
    record_id: str
    version: int
    type: str
    publisher: str
    status: str
    issued_at: datetime
    name: str
    # Why it is related: corporate_number, licence, name.
    reasons: tuple[str, ...] = ()


def subject_name(envelope: Mapping[str, Any]) -> str:
    """The name people know a record by: the broker, the school or the employer."""
    payload = envelope.get("payload") or {}
    for holder in (payload, payload.get("school"), payload.get("employer")):
        if isinstance(holder, Mapping) and isinstance(holder.get("name"), str):
            return str(holder["name"])
    return str(envelope.get("id", ""))


def organisation(envelope: Mapping[str, Any]) -> Organisation:
    payload = envelope.get("payload") or {}
    record_type = envelope.get("type")
    facts = search_fields(envelope)
    if record_type == "broker":
        names = list(facts.names)
        country = str(payload.get("country", ""))
    else:
        # A school or an employer is in Japan; the record's other names are brokers it
        # mentions, and its countries are nationalities of people, not of the organisation.
        holder = payload.get("school") or payload.get("employer") or {}
        names = [n for n in (holder.get("name"), holder.get("name_latin")) if n]
        country = "JP"
    identifiers = frozenset(
        [(CORPORATE_NUMBER, n) for n in facts.corporate_numbers]
        + [(LICENCE, licence_value(country, n)) for n in facts.licences]
    )
    return Organisation(
        names=frozenset(filter(None, map(fold, names))),
        country=country,
        identifiers=identifiers,
        looked_up=tuple(names[:NAMES_LOOKED_UP]),
    )


def _current_versions(conditions: Sequence[Any], limit: int) -> list[tuple[Any, Any]]:
    rows = db.session.execute(
        select(Record.id, RecordVersion)
        .join(
            RecordVersion,
            and_(RecordVersion.record_pk == Record.pk, RecordVersion.version == Record.version),
        )
        .where(*conditions, Record.status != DISPOSED)
        .order_by(Record.pk.desc())
        .limit(limit)
    ).all()
    return [(record_id, version) for record_id, version in rows]


def related_from(
    envelope: Mapping[str, Any], version: Any, reasons: Iterable[str]
) -> RelatedRecord:
    return RelatedRecord(
        record_id=str(envelope["id"]),
        version=int(version.version),
        type=str(envelope["type"]),
        publisher=str(envelope["publisher"]),
        status=str(envelope["status"]),
        issued_at=version.issued_at,
        name=subject_name(envelope),
        reasons=tuple(reasons),
    )


def linked_records(*, actor: Actor, record_ids: Iterable[str]) -> dict[str, RelatedRecord]:
    """The linked records the actor may read, by id; the others are simply absent."""
    wanted = sorted({i for i in record_ids if isinstance(i, str)})[:MATCHES_SHOWN]
    if not wanted:
        return {}
    rows = _current_versions([Record.id.in_(wanted), *readable_conditions(actor)], len(wanted))
    found = {}
    for record_id, version in rows:
        found[record_id] = related_from(json.loads(version.canonical), version, ())
    return found


def _by_identifier(actor: Actor, record_id: str, subject: Organisation) -> list[tuple[str, Any]]:
    if not subject.identifiers:
        return []
    matches = [tagged(kind, value) for kind, value in sorted(subject.identifiers)]
    conditions = [Record.id != record_id, or_(*matches), *readable_conditions(actor)]
    return _current_versions(conditions, MATCHES_SHOWN)


def _by_name(actor: Actor, subject: Organisation) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for name in subject.looked_up:
        page = search_records(actor=actor, query=SearchQuery(q=name, limit=MATCHES_SHOWN))
        found += [(view.record_id, view.version) for view in page.items]
    return found


def same_organisation(*, actor: Actor, envelope: Mapping[str, Any]) -> list[RelatedRecord]:
    """Other records the actor may read about the organisation ``envelope`` is about,
    newest first, each with the reasons it matched."""
    subject = organisation(envelope)
    record_id = str(envelope["id"])
    candidates: dict[str, Any] = {}
    for candidate_id, version in [
        *_by_identifier(actor, record_id, subject),
        *_by_name(actor, subject),
    ]:
        if candidate_id != record_id:
            candidates.setdefault(candidate_id, version)
    related = []
    for version in candidates.values():
        other_envelope = json.loads(version.canonical)
        other = organisation(other_envelope)
        reasons = [kind for kind, _ in sorted(subject.identifiers & other.identifiers)]
        if subject.names & other.names and subject.country == other.country:
            reasons.append("name")
        if reasons:
            related.append(related_from(other_envelope, version, dict.fromkeys(reasons)))
    related.sort(key=lambda r: r.issued_at, reverse=True)
    return related[:MATCHES_SHOWN]
