"""TAXII 2.1 collections over the record feed: one per record type, read through the policy.

Objects come in feed order (gap-free, commit order), so a cursor over the feed position
never skips a version; ``added_after`` goes by the feed's date added, which the integrator
makes grow with the position.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, false, or_, select
from sqlalchemy.orm import aliased

from exchange.agencies.models import System
from exchange.agencies.policy import PURPOSES, current_policy
from exchange.auth.actor import Actor
from exchange.errors import Kind, Refusal
from exchange.extensions import db
from exchange.feeds.models import FeedPosition
from exchange.pki.models import SigningKey
from exchange.records.models import Record, RecordTag, RecordVersion
from exchange.records.reading import readable_conditions
from exchange.records.signing import compromise_flag
from exchange.records.tags import STIX_ID
from exchange.retention.models import RecordDisposal
from exchange.taxii import stix
from exchange.taxii.query import (
    MAX_LIMIT,
    STIX_MEDIA_TYPE,
    Cursor,
    Entry,
    ObjectPage,
    ObjectQuery,
    object_version,
    parse_timestamp,
)
from schemas import RECORD_TYPES

# Feed rows examined per request at most, however few of them match: the rest is one
# ``next`` away.
_MAX_ROWS = 5000

# Short titles: OpenCTI's TAXII connector names a collection by its API root and title.
_TITLES = {
    "broker": "Brokers",
    "school": "Japanese-language schools",
    "illegal_employment": "Illegal employment",
}
_MEASURES = {"broker": "146, 147", "school": "197", "illegal_employment": "204, 210"}


def collection_id(record_type: str) -> str:
    return str(uuid.uuid5(stix.NAMESPACE, f"collection/{record_type}"))


_TYPE_OF_COLLECTION = {collection_id(t): t for t in RECORD_TYPES}


@dataclass(frozen=True)
class Collection:
    id: str
    record_type: str
    can_read: bool
    can_write: bool

    def document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": _TITLES[self.record_type],
            "description": f"Every version of the {self.record_type} records you may read "
            f"(measures {_MEASURES[self.record_type]}), as STIX 2.1 objects carrying the "
            "publisher's signed record.",
            "alias": self.record_type,
            "can_read": self.can_read,
            # A writer adds objects carrying its signed record in the exchange's extension.
            "can_write": self.can_write,
            "media_types": [STIX_MEDIA_TYPE],
        }


def _collection(record_type: str, actor: Actor) -> Collection:
    policy = current_policy()
    return Collection(
        collection_id(record_type),
        record_type,
        can_read=policy.may_read(actor.agency_kind, record_type),
        can_write=policy.may_publish(actor.agency_kind, record_type),
    )


def list_collections(*, actor: Actor) -> list[Collection]:
    """The collections of the record types the caller's agency may read or publish (DESIGN §5)."""
    found = (_collection(t, actor) for t in RECORD_TYPES)
    return [c for c in found if c.can_read or c.can_write]


def get_collection(*, actor: Actor, collection: str) -> Collection:
    record_type = _TYPE_OF_COLLECTION.get(collection)
    if record_type is None:
        raise Refusal(
            Kind.NOT_FOUND,
            "collection_not_found",
            "No such collection",
            f"No collection {collection!r} on this API root.",
        )
    found = _collection(record_type, actor)
    if not (found.can_read or found.can_write):
        raise Refusal(
            Kind.FORBIDDEN,
            "policy_denied",
            "Not allowed by the sharing policy",
            f"Your agency may neither read nor publish {record_type} records.",
        )
    return found


def require_read(collection: Collection) -> None:
    # TAXII 2.1 §5.3: a collection with can_read false refuses its objects with 403.
    if not collection.can_read:
        raise Refusal(
            Kind.FORBIDDEN,
            "policy_denied",
            "Not allowed by the sharing policy",
            f"Your agency may not read {collection.record_type} records.",
        )


def require_write(collection: Collection) -> None:
    # TAXII 2.1 §5.4: a collection with can_write false refuses Add Objects with 403.
    if not collection.can_write:
        raise Refusal(
            Kind.FORBIDDEN,
            "collection_read_only",
            "Collection is read-only",
            f"Your agency may not publish {collection.record_type} records (the sharing policy).",
        )


def reading_purpose(*, actor: Actor, stated: str | None) -> str:
    """The purpose of a read: the one stated, else the system's standing purpose (§11)."""
    if stated:
        if stated not in PURPOSES:
            raise Refusal(
                Kind.MALFORMED,
                "purpose_invalid",
                "Unknown purpose",
                f"One of: {', '.join(PURPOSES)}.",
                errors=[{"parameter": "Exchange-Purpose", "detail": "Not a known purpose."}],
            )
        return stated
    standing = db.session.scalar(
        select(System.standing_purpose).where(System.id == actor.system_id)
    )
    if not standing:
        raise Refusal(
            Kind.MALFORMED,
            "purpose_required",
            "Purpose required",
            "State why you read in the Exchange-Purpose header, or ask your administrator "
            "to set a standing purpose for this system.",
            errors=[{"parameter": "Exchange-Purpose", "detail": "Missing."}],
        )
    return str(standing)


_feed = FeedPosition.__table__
_first = aliased(RecordVersion, name="first_version")


def _version_condition(versions: Sequence[str]) -> Any:
    """SQL for match[version]; exact millisecond matches are checked on the objects."""
    if "all" in versions:
        return None
    alternatives: list[Any] = []
    if "first" in versions:
        alternatives.append(RecordVersion.version == 1)
    if "last" in versions:
        alternatives.append(RecordVersion.version == Record.version)
    for value in versions:
        if value in ("first", "last"):
            continue
        moment = parse_timestamp(value, parameter="match[version]")
        window = (moment, moment + timedelta(milliseconds=1))
        # modified is the version's issued_at, or the first version's where that is later.
        alternatives.append(
            or_(
                and_(RecordVersion.issued_at >= window[0], RecordVersion.issued_at < window[1]),
                and_(_first.issued_at >= window[0], _first.issued_at < window[1]),
            )
        )
    return or_(*alternatives)


def _wanted(query: ObjectQuery, obj: dict[str, Any], *, latest: bool, first: bool) -> bool:
    if query.types and obj["type"] not in query.types:
        return False
    if query.ids and obj["id"] not in query.ids:
        return False
    if query.spec_versions and obj.get("spec_version", "2.1") not in query.spec_versions:
        return False
    if "all" in query.versions:
        return True
    return (
        ("last" in query.versions and latest)
        or ("first" in query.versions and first)
        or object_version(obj) in query.versions
    )


def _shared_entries(query: ObjectQuery) -> list[Entry]:
    """The exchange's own objects, at position 0 of every collection."""
    if query.added_after is not None and query.added_after >= stix.DEFINED_AT:
        return []
    return [
        Entry(obj, stix.DEFINED_AT)
        for obj in stix.shared_objects()
        if _wanted(query, obj, latest=True, first=True)
    ]


def read_objects(*, actor: Actor, collection: Collection, query: ObjectQuery) -> ObjectPage:
    """A page of the collection's objects in feed order (TAXII 2.1 §5.3)."""
    record_type = collection.record_type
    if query.types and not set(query.types) & {
        *stix.OBJECT_TYPES[record_type],
        "identity",
        "extension-definition",
        "marking-definition",
    }:
        return ObjectPage()
    start = query.next or Cursor(0)
    begin = (start.position, start.offset)
    collected = [(0, i, e) for i, e in enumerate(_shared_entries(query)) if (0, i) >= begin]
    conditions = [
        Record.type == record_type,
        *readable_conditions(actor),
        # A disposed version's payload is destroyed: a collection passes over it as the
        # feed does (exchange.feeds.events).
        ~exists().where(
            RecordDisposal.record_pk == _feed.c.record_pk,
            RecordDisposal.version == _feed.c.version,
        ),
    ]
    if query.added_after is not None:
        conditions.append(_feed.c.added_at > query.added_after)
    version_condition = _version_condition(query.versions)
    if version_condition is not None:
        conditions.append(version_condition)
    record_ids = [i for i in query.ids if i.split("--")[0] in stix.OBJECT_TYPES[record_type]]
    if query.ids:
        if not record_ids:
            conditions.append(false())
        else:
            conditions.append(
                Record.pk.in_(
                    select(RecordTag.record_pk).where(
                        RecordTag.kind == STIX_ID, RecordTag.value.in_(record_ids)
                    )
                )
            )
    statement = (
        select(
            _feed.c.position,
            _feed.c.added_at,
            Record.version.label("latest"),
            RecordVersion.version,
            RecordVersion.canonical,
            RecordVersion.signature,
            RecordVersion.receipt,
            RecordVersion.issued_at,
            RecordVersion.received_at,
            _first.issued_at.label("first_issued_at"),
            SigningKey.status.label("key_status"),
            SigningKey.compromised_at,
        )
        .select_from(_feed)
        .join(Record, Record.pk == _feed.c.record_pk)
        .join(
            RecordVersion,
            and_(
                RecordVersion.record_pk == _feed.c.record_pk,
                RecordVersion.version == _feed.c.version,
            ),
        )
        .join(_first, and_(_first.record_pk == Record.pk, _first.version == 1))
        .join(SigningKey, SigningKey.kid == RecordVersion.kid)
        .where(*conditions)
        .order_by(_feed.c.position)
    )
    limit = min(max(query.limit, 1), MAX_LIMIT)
    after = max(start.position, 1) - 1
    examined = 0
    exhausted = False
    while len(collected) <= limit and examined < _MAX_ROWS:
        chunk = min(limit + 1, _MAX_ROWS - examined)
        rows = db.session.execute(statement.where(_feed.c.position > after).limit(chunk)).all()
        examined += len(rows)
        for row in rows:
            collected += [
                (row.position, i, e)
                for i, e in enumerate(_row_entries(row, query))
                if (row.position, i) >= begin
            ]
            after = row.position
        if len(rows) < chunk:
            exhausted = True
            break
    page = ObjectPage(entries=[e for _, _, e in collected[:limit]])
    if len(collected) > limit:
        position, index, _ = collected[limit]
        page.more, page.next = True, Cursor(position, index).encode()
    elif not exhausted:
        # Examined as much as one answer may: the rest is one request away.
        page.more, page.next = True, Cursor(after + 1).encode()
    return page


def _row_entries(row: Any, query: ObjectQuery) -> list[Entry]:
    envelope = json.loads(bytes(row.canonical))
    version = stix.SignedVersion(
        envelope=envelope,
        canonical=bytes(row.canonical),
        signature=row.signature,
        receipt=row.receipt,
        first_issued_at=row.first_issued_at,
        key_compromised=compromise_flag(
            _KeyState(row.key_status, row.compromised_at),
            issued_at=row.issued_at,
            received_at=row.received_at,
        ),
    )
    latest, first = row.version == row.latest, row.version == 1
    return [
        Entry(obj, row.added_at, envelope["id"], row.version)
        for obj in stix.record_objects(version)
        if _wanted(query, obj, latest=latest, first=first)
    ]


@dataclass(frozen=True)
class _KeyState:
    status: str
    compromised_at: datetime | None
