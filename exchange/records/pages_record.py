"""Everything the record page shows, gathered in a constant number of queries.

The versions come from ``read_versions`` (which applies the sharing policy); each
version's signature is verified again here; linked records and other agencies' records
about the same organisation come from ``exchange.records.related``, through the policy too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import url_for
from flask_babel import get_locale
from sqlalchemy import select

from exchange.agencies.models import Agency
from exchange.auth.actor import Actor
from exchange.extensions import db
from exchange.records.pages_payload import (
    Change,
    Context,
    Shown,
    compare_versions,
    present_envelope,
    present_payload,
)
from exchange.records.pages_signature import SignatureCheck, check_signature
from exchange.records.reading import VersionView
from exchange.records.related import RelatedRecord, linked_records, same_organisation, subject_name


@dataclass(frozen=True)
class AgencyName:
    id: str
    kind: str
    name_ja: str
    name_en: str

    def label(self) -> str:
        name = self.name_ja if str(get_locale() or "ja") == "ja" else self.name_en
        return f"{name} ({self.id})"


def agency_directory() -> dict[str, AgencyName]:
    """Every agency by id, in one query: pages name agencies, never show bare ids."""
    rows = db.session.execute(
        select(Agency.id, Agency.kind, Agency.name_ja, Agency.name_en).order_by(Agency.id)
    )
    return {row.id: AgencyName(row.id, row.kind, row.name_ja, row.name_en) for row in rows}


def agency_namer(directory: Mapping[str, AgencyName]) -> Callable[[str], str]:
    def name(agency_id: str) -> str:
        found = directory.get(agency_id)
        return found.label() if found is not None else agency_id

    return name


@dataclass
class VersionEntry:
    number: int
    envelope: dict[str, Any]
    signature: SignatureCheck
    received_at: Any
    changes: list[Change] = field(default_factory=list)


@dataclass
class Link:
    rel: str
    record_id: str
    found: RelatedRecord | None


@dataclass
class RecordPage:
    record_id: str
    name: str
    shown: VersionEntry
    latest: VersionEntry
    versions: list[VersionEntry]
    payload: list[Shown]
    handling: list[Shown]
    links: list[Link]
    same_publisher: list[RelatedRecord]
    also_reported_by: list[RelatedRecord]

    @property
    def withdrawn(self) -> bool:
        return self.latest.envelope.get("status") == "withdrawn"

    def targets(self) -> list[tuple[str, int]]:
        """Every record version whose content the page shows, for the audit entry."""
        shown = [(self.record_id, v.number) for v in self.versions]
        shown += [(link.found.record_id, link.found.version) for link in self.links if link.found]
        shown += [(r.record_id, r.version) for r in (*self.same_publisher, *self.also_reported_by)]
        return list(dict.fromkeys(shown))


def _links(envelope: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Links of the envelope and broker records named in the payload, each once."""
    found: dict[str, str] = {}
    for link in envelope.get("links") or ():
        found.setdefault(str(link.get("id")), str(link.get("rel", "related")))
    for broker in (envelope.get("payload") or {}).get("brokers") or ():
        if broker.get("broker_record_id"):
            found.setdefault(str(broker["broker_record_id"]), "broker")
    return [(record_id, rel) for record_id, rel in found.items()]


def build_record_page(
    *,
    actor: Actor,
    views: Sequence[VersionView],
    version: int | None,
    purpose: str,
    directory: Mapping[str, AgencyName],
) -> RecordPage:
    def record_href(record_id: str) -> str:
        return url_for("records_ui.record", record_id=record_id, purpose=purpose)

    context = Context(agency_name=agency_namer(directory), record_href=record_href)
    entries: list[VersionEntry] = []
    for view in views:
        envelope = json.loads(view.version.canonical)
        check = check_signature(
            version=view.version, key=view.key, publisher=str(envelope.get("publisher"))
        )
        entry = VersionEntry(view.version.version, envelope, check, view.version.received_at)
        if entries:
            entry.changes = compare_versions(entries[-1].envelope, envelope, context)
        entries.append(entry)
    latest = entries[-1]
    shown = next((e for e in entries if e.number == version), latest)
    envelope = shown.envelope
    wanted = _links(envelope)
    readable = linked_records(actor=actor, record_ids=[record_id for record_id, _ in wanted])
    related = same_organisation(actor=actor, envelope=latest.envelope)
    publisher = latest.envelope.get("publisher")
    return RecordPage(
        record_id=views[0].record_id,
        name=subject_name(envelope),
        shown=shown,
        latest=latest,
        versions=entries,
        payload=present_payload(envelope, context),
        handling=present_envelope(envelope, context),
        links=[Link(rel, record_id, readable.get(record_id)) for record_id, rel in wanted],
        same_publisher=[r for r in related if r.publisher == publisher],
        also_reported_by=[r for r in related if r.publisher != publisher],
    )
