"""Reading the feed: record versions in feed order, as events a subscriber may receive.

The envelope goes out as the stored RFC 8785 bytes, embedded unparsed in the response,
so what a subscriber verifies is byte for byte what the publisher signed.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import and_, bindparam, select
from sqlalchemy.engine import Connection, Engine

from exchange.agencies.models import Agency
from exchange.agencies.policy import Policy
from exchange.auth.actor import Actor
from exchange.clock import rfc3339
from exchange.feeds.models import FeedPosition, Subscription
from exchange.feeds.service import Candidate, matches, may_receive
from exchange.pki.models import SigningKey
from exchange.records.models import Record, RecordVersion
from exchange.records.signing import compromise_flag
from exchange.retention.models import RecordDisposal

_feed = FeedPosition.__table__
_record = Record.__table__
_version = RecordVersion.__table__
_agency = Agency.__table__
_key = SigningKey.__table__
_disposal = RecordDisposal.__table__

LAST_POSITION = select(_feed.c.position).order_by(_feed.c.position.desc()).limit(1)

# What never changes once a position is given: everything but the signing key's state.
FEED_ROWS = (
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
        _version.c.kid,
    )
    .select_from(
        _feed.join(_record, _record.c.pk == _feed.c.record_pk)
        .join(
            _version,
            and_(_version.c.record_pk == _feed.c.record_pk, _version.c.version == _feed.c.version),
        )
        .join(_agency, _agency.c.id == _record.c.publisher)
    )
    .order_by(_feed.c.position)
)
FEED_RANGE = FEED_ROWS.where(
    _feed.c.position > bindparam("after"), _feed.c.position <= bindparam("upper")
)
# Disposals are read afresh for every page too: a cached row may predate its disposal.
_DISPOSED_IN_RANGE = (
    select(_feed.c.position)
    .join(
        _disposal,
        and_(_disposal.c.record_pk == _feed.c.record_pk, _disposal.c.version == _feed.c.version),
    )
    .where(_feed.c.position >= bindparam("first"), _feed.c.position <= bindparam("last"))
)
# The keys' state is read afresh for every page: a revocation flags what follows at once.
_KEY_STATES = select(_key.c.kid, _key.c.agency_id, _key.c.status, _key.c.compromised_at).where(
    _key.c.kid.in_(bindparam("kids", expanding=True))
)


@dataclass(frozen=True)
class KeyState:
    kid: str
    agency: str
    status: str
    compromised_at: Any


class FeedRow:
    """A positioned version, shared by every subscriber that reads it.

    The parsed envelope and the event's bytes are made once, for the first subscriber that
    needs them; the bytes per state of the signing key, which may change.
    """

    __slots__ = (
        "_envelope",
        "canonical",
        "id",
        "issued_at",
        "kid",
        "kind",
        "position",
        "publisher",
        "receipt",
        "received_at",
        "rendered",
        "signature",
        "status",
        "type",
        "version",
    )

    def __init__(self, row: Any) -> None:
        (
            self.position,
            self.id,
            self.type,
            self.publisher,
            self.kind,
            self.version,
            self.status,
            canonical,
            self.signature,
            self.receipt,
            self.issued_at,
            self.received_at,
            self.kid,
        ) = row
        self.canonical = bytes(canonical)
        self.rendered: dict[tuple[str, bool], bytes] = {}
        self._envelope: Mapping[str, Any] | None = None

    def envelope(self, *, needed: bool) -> Mapping[str, Any]:
        """The envelope, parsed once; only its audience when nothing else is ``needed``."""
        if self._envelope is None:
            # In RFC 8785 bytes this member can only be handling.audience: a string that
            # spelled it would have its quotes escaped.
            if not needed and b'"audience":null' in self.canonical:
                return _OPEN
            self._envelope = orjson.loads(self.canonical)
        return self._envelope

    def event(self, key: KeyState) -> bytes:
        compromised = key.status == "revoked" and compromise_flag(
            key, issued_at=self.issued_at, received_at=self.received_at
        )
        rendered = self.rendered.get((key.status, compromised))
        if rendered is None:
            rendered = _event_bytes(self, key, compromised)
            self.rendered[(key.status, compromised)] = rendered
        return rendered


class FeedCache:
    """Recently read feed rows, per database: fifty push subscribers read each row once.

    Positions are appended and never rewritten (DESIGN §9), so a cached row stays right;
    only the signing key's state and disposals are read again each time.
    """

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._rows: OrderedDict[int, FeedRow] = OrderedDict()
        self._lock = threading.Lock()

    def range(self, connection: Connection, after: int, upper: int) -> list[FeedRow]:
        """The rows at positions ``after + 1`` to ``upper``, all of which exist."""
        with self._lock:
            found = [self._rows.get(p) for p in range(after + 1, upper + 1)]
        missing = [after + 1 + i for i, row in enumerate(found) if row is None]
        if missing:
            fetched = {
                r.position: r
                for r in map(
                    FeedRow,
                    connection.execute(
                        FEED_RANGE, {"after": missing[0] - 1, "upper": missing[-1]}
                    ).all(),
                )
            }
            self._keep(fetched)
            found = [row or fetched.get(after + 1 + i) for i, row in enumerate(found)]
        return [row for row in found if row is not None]

    def forget(self, positions: Sequence[int]) -> None:
        """Drop rows whose payload was destroyed, so this process holds no copy of it."""
        with self._lock:
            for position in positions:
                self._rows.pop(position, None)

    def _keep(self, rows: Mapping[int, FeedRow]) -> None:
        with self._lock:
            self._rows.update(rows)
            while len(self._rows) > self.capacity:
                self._rows.popitem(last=False)


_caches: weakref.WeakKeyDictionary[Engine, FeedCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def feed_cache(connection: Connection) -> FeedCache:
    with _caches_lock:
        cache = _caches.get(connection.engine)
        if cache is None:
            cache = _caches[connection.engine] = FeedCache()
        return cache


def without_disposed(connection: Connection, rows: Sequence[FeedRow]) -> list[FeedRow]:
    """The rows whose versions still have their payload: a feed passes over disposed
    versions as over rows its filters exclude, and their records' reads answer 410."""
    if not rows:
        return []
    disposed = set(
        connection.execute(
            _DISPOSED_IN_RANGE,
            {"first": min(r.position for r in rows), "last": max(r.position for r in rows)},
        ).scalars()
    )
    if not disposed:
        return list(rows)
    feed_cache(connection).forget(sorted(disposed))
    return [row for row in rows if row.position not in disposed]


def key_states(connection: Connection, rows: Sequence[FeedRow]) -> dict[str, KeyState]:
    kids = sorted({row.kid for row in rows})
    if not kids:
        return {}
    return {
        kid: KeyState(kid, agency, status, compromised_at)
        for kid, agency, status, compromised_at in connection.execute(_KEY_STATES, {"kids": kids})
    }


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


def _event_bytes(row: FeedRow, key: KeyState, compromised: bool) -> bytes:
    """One event: the version as GET /records/{id} gives it, with its feed place."""
    head = orjson.dumps(
        {
            "event_id": str(row.position),
            "position": row.position,
            "kind": _kind(row.version, row.status),
            "signature": row.signature,
            "receipt": row.receipt,
            "received_at": rfc3339(row.received_at),
            "key": {"kid": key.kid, "agency": key.agency, "status": key.status},
            "flags": {"key_compromised": compromised},
        }
    )
    # The stored RFC 8785 bytes go in as they are: the last member of the object.
    return b"".join((head[:-1], b',"record":', row.canonical, b"}"))


def read_events(
    connection: Connection,
    *,
    actor: Actor,
    policy: Policy,
    subscription: Subscription,
    after: int,
    limit: int,
    positions: Sequence[int] | None = None,
    end: int | None = None,
) -> EventPage:
    """Up to ``limit`` events after ``after`` that the subscriber may receive now.

    Rows are examined in feed order; the cursor moves past every row examined, delivered
    or not, so a filter that matches nothing still lets the subscriber advance.
    ``positions`` reads just those positions instead (redriven dead letters). ``end`` is
    the end of the feed when the caller has just read it.
    """
    types = frozenset(subscription.types.split())
    filters: Mapping[str, Sequence[str]] = json.loads(subscription.filters)
    cache = feed_cache(connection)
    # The end of the feed, read first: the single integrator commits positions in order,
    # so every position up to it is visible now, and once the rows up to it are examined
    # the cursor may move to it without skipping one.
    if end is None:
        end = connection.execute(LAST_POSITION).scalar() or 0
    page = EventPage(next_cursor=after, reached_end=positions is None)
    take = _Taker(actor, policy, types, filters, limit, page)
    if positions is not None:
        rows = [
            row
            for position in sorted(set(positions))
            if position <= end
            for row in cache.range(connection, position - 1, position)
        ]
        rows = without_disposed(connection, rows)
        take(rows, key_states(connection, rows))
        return page
    # Positions are gap-free, so ``limit`` of them are one bounded range: no LIMIT, and
    # no planner estimate to go wrong (a stale one made PostgreSQL sort the whole rest).
    for _ in range(_MAX_CHUNKS):
        if after >= end:
            return _at_end(page, end)
        upper = min(end, after + limit)
        rows = without_disposed(connection, cache.range(connection, after, upper))
        if take(rows, key_states(connection, rows)):
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
    types: frozenset[str]
    filters: Mapping[str, Sequence[str]]
    limit: int
    page: EventPage

    def __call__(self, rows: Sequence[FeedRow], keys: Mapping[str, KeyState]) -> bool:
        page = self.page
        needed = bool(self.filters)
        for row in rows:
            page.next_cursor = row.position
            if row.type not in self.types:
                continue
            candidate = Candidate(
                position=row.position,
                record_id=row.id,
                record_type=row.type,
                publisher=row.publisher,
                publisher_kind=row.kind,
                envelope=row.envelope(needed=needed),
            )
            if may_receive(self.actor, self.policy, candidate) and matches(self.filters, candidate):
                page.events.append(row.event(keys[row.kid]))
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
