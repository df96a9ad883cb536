"""Reading the feed: record versions in feed order, as events a subscriber may receive.

The envelope goes out as the stored RFC 8785 bytes, embedded unparsed in the response,
so what a subscriber verifies is byte for byte what the publisher signed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import and_, bindparam, select
from sqlalchemy.engine import Connection

from exchange.agencies.models import Agency
from exchange.agencies.policy import Policy
from exchange.auth.actor import Actor
from exchange.clock import rfc3339
from exchange.feeds.models import FeedPosition, Subscription
from exchange.feeds.service import Candidate, matches, may_receive
from exchange.pki.models import SigningKey
from exchange.records.models import Record, RecordVersion
from exchange.records.signing import compromise_flag

_feed = FeedPosition.__table__
_record = Record.__table__
_version = RecordVersion.__table__
_agency = Agency.__table__
_key = SigningKey.__table__

EVENT_ROWS = (
    select(
        _feed.c.position,
        _record.c.id,
        _record.c.type,
        _record.c.publisher,
        _agency.c.kind,
        _version.c.version,
        _version.c.status,
        _version.c.canonical,
        _version.c.signature,
        _version.c.receipt,
        _version.c.issued_at,
        _version.c.received_at,
        _key.c.kid,
        _key.c.agency_id.label("key_agency"),
        _key.c.status.label("key_status"),
        _key.c.compromised_at,
    )
    .select_from(
        _feed.join(_record, _record.c.pk == _feed.c.record_pk)
        .join(
            _version,
            and_(_version.c.record_pk == _feed.c.record_pk, _version.c.version == _feed.c.version),
        )
        .join(_agency, _agency.c.id == _record.c.publisher)
        .join(_key, _key.c.kid == _version.c.kid)
    )
    .order_by(_feed.c.position)
)


LAST_POSITION = select(_feed.c.position).order_by(_feed.c.position.desc()).limit(1)


@dataclass
class EventPage:
    """Events for one subscriber, and the cursor after everything examined."""

    events: list[bytes] = field(default_factory=list)
    targets: list[tuple[str, int]] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    next_cursor: int = 0
    reached_end: bool = False

    def body(self) -> bytes:
        return orjson.dumps(
            {"events": [orjson.Fragment(e) for e in self.events], "next_cursor": self.next_cursor}
        )


def _kind(version: int, status: str) -> str:
    if status == "withdrawn":
        return "withdrawn"
    return "created" if version == 1 else "amended"


def event_bytes(row: Any, times: dict[Any, str] | None = None) -> bytes:
    """One event: the version as GET /records/{id} gives it, with its feed place.

    ``times`` memoizes formatted reception times: a batch's versions share one.
    """
    received = times.get(row.received_at) if times is not None else None
    if received is None:
        received = rfc3339(row.received_at)
        if times is not None:
            times[row.received_at] = received
    compromised = row.key_status == "revoked" and compromise_flag(
        _Key(row.key_status, row.compromised_at),
        issued_at=row.issued_at,
        received_at=row.received_at,
    )
    head = orjson.dumps(
        {
            "event_id": str(row.position),
            "position": row.position,
            "kind": _kind(row.version, row.status),
            "signature": row.signature,
            "receipt": row.receipt,
            "received_at": received,
            "key": {"kid": row.kid, "agency": row.key_agency, "status": row.key_status},
            "flags": {"key_compromised": compromised},
        }
    )
    # The stored RFC 8785 bytes go in as they are: the last member of the object.
    return b"".join((head[:-1], b',"record":', bytes(row.canonical), b"}"))


@dataclass(frozen=True)
class _Key:
    status: str
    compromised_at: Any


def read_events(
    connection: Connection,
    *,
    actor: Actor,
    policy: Policy,
    subscription: Subscription,
    after: int,
    limit: int,
    positions: Sequence[int] | None = None,
) -> EventPage:
    """Up to ``limit`` events after ``after`` that the subscriber may receive now.

    Rows are examined in feed order; the cursor moves past every row examined, delivered
    or not, so a filter that matches nothing still lets the subscriber advance.
    ``positions`` reads just those positions instead (redriven dead letters).
    """
    types = subscription.types.split()
    filters: Mapping[str, Sequence[str]] = json.loads(subscription.filters)
    # The end of the feed, read first: the single integrator commits positions in order,
    # so every position up to it is visible now, and once the rows up to it are examined
    # the cursor may move to it without skipping one.
    end = connection.execute(LAST_POSITION).scalar() or 0
    # Filtered here, not in SQL: a condition on the record lets SQLite's planner drive the
    # query from a record index and sort everything, instead of walking the feed in order.
    query = EVENT_ROWS
    page = EventPage(next_cursor=after, reached_end=positions is None)
    take = _Taker(actor, policy, types, filters, limit, page)
    if positions is not None:
        take(connection.execute(query.where(_feed.c.position.in_(list(positions)))).all())
        return page
    # Positions are gap-free, so ``limit`` of them are one bounded range: no LIMIT, and
    # no planner estimate to go wrong (a stale one made PostgreSQL sort the whole rest).
    query = query.where(
        _feed.c.position > bindparam("after"), _feed.c.position <= bindparam("upper")
    )
    for _ in range(_MAX_CHUNKS):
        if after >= end:
            return _at_end(page, end)
        upper = min(end, after + limit)
        rows = connection.execute(query, {"after": after, "upper": upper}).all()
        if take(rows):
            page.reached_end = False
            return page
        after = page.next_cursor = upper
    # Examined as much as one answer may: the rest waits for the next call.
    page.reached_end = after >= end
    return _at_end(page, end)


@dataclass
class _Taker:
    """Adds the rows a subscriber may receive to a page; True once the page is full."""

    actor: Actor
    policy: Policy
    types: Sequence[str]
    filters: Mapping[str, Sequence[str]]
    limit: int
    page: EventPage
    times: dict[Any, str] = field(default_factory=dict)

    def __call__(self, rows: Sequence[Any]) -> bool:
        page = self.page
        for row in rows:
            page.next_cursor = row.position
            if row.type not in self.types:
                continue
            canonical = bytes(row.canonical)
            # In RFC 8785 bytes this member can only be handling.audience: a string
            # that spelled it would have its quotes escaped.
            open_audience = b'"audience":null' in canonical
            candidate = Candidate(
                position=row.position,
                record_id=row.id,
                record_type=row.type,
                publisher=row.publisher,
                publisher_kind=row.kind,
                envelope=_OPEN if open_audience and not self.filters else orjson.loads(canonical),
            )
            if may_receive(self.actor, self.policy, candidate) and matches(self.filters, candidate):
                page.events.append(event_bytes(row, self.times))
                page.targets.append((row.id, row.version))
                page.positions.append(row.position)
            if len(page.events) >= self.limit:
                return True
        return False


def _at_end(page: EventPage, end: int) -> EventPage:
    if page.reached_end and end > page.next_cursor:
        page.next_cursor = int(end)
    return page


# Envelopes whose audience is open need no parsing when no filter looks inside them.
_OPEN: Mapping[str, Any] = {"handling": {"audience": None}}
_MAX_CHUNKS = 4
