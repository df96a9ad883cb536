"""The integrator: the one sequencer that turns committed entries into leaves (DESIGN §9).

Writers insert audit entries freely; their ``seq`` is insertion order, which on PostgreSQL
is not commit order (a transaction that took seq 5 may commit after the one that took 6).
The integrator takes committed entries that have no leaf yet, in seq order, gives them the
next leaf indices, extends the stored tree and, at most once per interval while entries
arrive, signs a C2SP checkpoint. A seq it has passed without seeing is a *hole*: the
entry may still commit, and then gets a later leaf; holes are watched for a while and
then forgotten (a request's transaction ends within ``hole_seconds``).

Everything it writes for a batch is one transaction, so a crash loses nothing: the next
integrator reloads the tree's right edge from the stored hashes and carries on, once that
edge reproduces the newest signed checkpoint (``signed_state``); otherwise it refuses to
integrate or sign, says so at ERROR and in :attr:`Integrator.status`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection, Engine

from audit.checkpoint import Checkpoint
from audit.merkle import leaf_hash
from audit.note import NoteSigner, NoteVerifier, sign_note
from audit.tree import CompactRange, stored_index
from exchange.clock import as_utc, utcnow
from exchange.feeds.models import FeedPosition
from exchange.feeds.signal import announce_feed
from exchange.records.models import RecordVersion
from exchange.trail.entry_fields import entry_targets, leaf_projection
from exchange.trail.models import AuditCheckpoint, AuditEntry, AuditHash, AuditLeaf, AuditTarget
from exchange.trail.signed_state import SignedStateMismatch, signed_state
from exchange.trail.stored_tree import integrated_size

log = logging.getLogger(__name__)

_entry = AuditEntry.__table__
_leaf = AuditLeaf.__table__
_checkpoint = AuditCheckpoint.__table__
_feed = FeedPosition.__table__
_version = RecordVersion.__table__

PUBLISH_ACTION = "record.publish"
# Requests that put referral events on agencies' feeds: their integration wakes push
# delivery as new feed positions do.
REFERRAL_STEP_ACTIONS = frozenset(
    ("referral.send", "referral.acknowledge", "referral.assign", "referral.close")
)
# Entry ids per IN list: far below SQLite's bound-parameter limit.
_ID_CHUNK = 2000
# The least step between two positions' dates added (microseconds: what both databases keep).
_ADDED_STEP = timedelta(microseconds=1)

_target = AuditTarget.__table__
_hash = AuditHash.__table__


_INSERT_CHECKPOINT = _checkpoint.insert()

# How far back a restarted integrator looks for entries that committed out of order, and
# how many seqs of one gap it watches: gaps come from transactions in flight or rolled back.
_RESTART_WINDOW = 100_000
_MAX_GAP = 100_000


def _derived(
    seq: int, canonical: bytes
) -> tuple[dict[str, Any], list[tuple[str, int]], str | None]:
    """What auditors query by, from the entry's bytes, and the entry's id.

    The exchange writes every entry itself, so unreadable bytes mean tampering: the entry
    still gets its leaf (the tree holds what is there) and ``audit verify`` names it.
    """
    try:
        document = orjson.loads(canonical)
        return leaf_projection(document), entry_targets(document), str(document["id"])
    except (ValueError, KeyError, TypeError, AttributeError):
        log.error("audit entry seq %s is not a readable entry", seq)
        return dict(_UNREADABLE), [], None


_UNREADABLE: dict[str, Any] = {
    "recorded_at": datetime(1970, 1, 1, tzinfo=UTC),
    "action": "entry.unreadable",
    "outcome": "error",
    "status": 0,
    "actor_agency": None,
    "actor_system": None,
    "actor_fingerprint": None,
    "purpose": None,
    "actor_user": None,
    "account_user": None,
}


@dataclass(frozen=True)
class IntegratorStatus:
    """What a health check reads: whether the integrator signs, and if not, why.

    ``state`` is ``starting``, ``integrating``, ``standby`` (another holds the lock),
    ``refusing`` (its stored state does not reproduce the newest signed checkpoint; it
    neither integrates nor signs) or ``stopped``; ``since`` is when it entered that state.
    """

    state: str
    since: datetime
    detail: str = ""

    @property
    def refusing(self) -> bool:
        return self.state == "refusing"


@dataclass
class Integration:
    """What one call to :meth:`Integrator.integrate` did."""

    integrated: int = 0
    size: int = 0
    checkpoint: int | None = None


@dataclass
class Integrator:
    engine: Engine
    signer: NoteSigner
    origin: str
    batch_size: int = 10_000
    checkpoint_interval: float = 1.0
    hole_seconds: float = 60.0
    clock: Callable[[], float] = time.monotonic
    now: Callable[[], datetime] = utcnow
    _range: CompactRange | None = None
    _high_seq: int = 0
    _holes: dict[int, float] = field(default_factory=dict)
    _checkpoint_size: int = 0
    _feed_next: int = 1
    _feed_added_at: datetime | None = None
    _checkpoint_at: float = float("-inf")
    status: IntegratorStatus = field(
        default_factory=lambda: IntegratorStatus("starting", since=utcnow())
    )

    @property
    def size(self) -> int:
        return 0 if self._range is None else self._range.size

    def set_status(self, state: str, detail: str = "") -> None:
        """Replace :attr:`status` (one assignment: readers in other threads see either)."""
        if (state, detail) != (self.status.state, self.status.detail):
            self.status = IntegratorStatus(state, since=self.now(), detail=detail)

    def integrate(self, *, checkpoint: bool | None = None) -> Integration:
        """Integrate every committed entry without a leaf; sign a checkpoint when due.

        ``checkpoint=True`` signs one now if the tree grew, ``False`` never, ``None`` when
        the interval has passed.
        """
        result = Integration()
        try:
            if self._range is None:
                self._load()
            while True:
                added = self._integrate_batch()
                result.integrated += added
                if added < self.batch_size:
                    break
            result.checkpoint = self._maybe_checkpoint(checkpoint)
        except SignedStateMismatch as mismatch:
            self._range = None
            self.set_status("refusing", str(mismatch))
            log.error("the integrator refuses to integrate or sign: %s", mismatch)
            raise
        except Exception:
            # The database is the truth: start again from what it holds.
            self._range = None
            raise
        result.size = self.size
        self.set_status("integrating")
        return result

    def pending_checkpoint_delay(self) -> float | None:
        """Seconds until a checkpoint is due for leaves not yet checkpointed, if any."""
        if self._range is None or self._range.size <= self._checkpoint_size:
            return None
        return max(0.0, self._checkpoint_at + self.checkpoint_interval - self.clock())

    def _load(self) -> None:
        with self.engine.connect() as connection:
            size = integrated_size(connection)
            # Before anything is signed on top of it (RFC 9162 §2.1.1).
            self._range = signed_state(
                connection,
                size=size,
                verifier=NoteVerifier.from_verifier_key(self.signer.verifier_key()),
                batch=self.batch_size,
            )
            high = connection.execute(select(func.max(_leaf.c.entry_seq))).scalar() or 0
            self._high_seq = int(high)
            recent = {
                int(seq)
                for (seq,) in connection.execute(
                    select(_leaf.c.entry_seq).where(
                        _leaf.c.entry_seq > self._high_seq - _RESTART_WINDOW
                    )
                )
            }
            latest = connection.execute(
                select(_checkpoint.c.size).order_by(_checkpoint.c.size.desc()).limit(1)
            ).scalar()
            self._checkpoint_size = int(latest or 0)
            last = connection.execute(
                select(_feed.c.position, _feed.c.added_at)
                .order_by(_feed.c.position.desc())
                .limit(1)
            ).first()
            self._feed_next = int(last.position) + 1 if last else 1
            self._feed_added_at = as_utc(last.added_at) if last else None
        started = self.clock()
        low = max(1, self._high_seq - _RESTART_WINDOW + 1)
        self._holes = {seq: started for seq in range(low, self._high_seq) if seq not in recent}

    def _pending(self, connection: Connection) -> list[tuple[int, bytes]]:
        rows = [
            (int(seq), bytes(canonical))
            for seq, canonical in connection.execute(
                select(_entry.c.seq, _entry.c.canonical)
                .where(_entry.c.seq > self._high_seq)
                .order_by(_entry.c.seq)
                .limit(self.batch_size)
            )
        ]
        if self._holes:
            late = sorted(self._holes)[: self.batch_size]
            filled = [
                (int(seq), bytes(canonical))
                for seq, canonical in connection.execute(
                    select(_entry.c.seq, _entry.c.canonical)
                    .where(_entry.c.seq.in_(late))
                    .order_by(_entry.c.seq)
                )
            ]
            # Late commits first: they were inserted before the newer entries.
            rows = filled + rows
        return rows

    def _integrate_batch(self) -> int:
        assert self._range is not None
        now = self.clock()
        for seq, seen in list(self._holes.items()):
            if now - seen > self.hole_seconds:
                del self._holes[seq]
        with self.engine.connect() as connection:
            rows = self._pending(connection)
            if not rows:
                connection.rollback()
                return 0
            tree = CompactRange.from_hashes(size=self._range.size, hashes=self._range.hashes)
            leaves: list[dict[str, Any]] = []
            targets: list[dict[str, Any]] = []
            hashes: list[dict[str, Any]] = []
            publishes: dict[str, int] = {}
            referral_steps = False
            new_holes: list[int] = []
            high = self._high_seq
            for seq, canonical in rows:
                if seq > high:
                    new_holes.extend(range(max(high + 1, seq - _MAX_GAP), seq))
                    high = seq
                index = tree.size
                projection, entry_targets, entry_id = _derived(seq, canonical)
                if (
                    entry_id is not None
                    and projection["action"] == PUBLISH_ACTION
                    and projection["outcome"] == "ok"
                ):
                    publishes[entry_id] = index
                referral_steps = referral_steps or (
                    projection["action"] in REFERRAL_STEP_ACTIONS and projection["outcome"] == "ok"
                )
                leaves.append({"leaf_index": index, "entry_seq": seq, **projection})
                targets.extend(
                    {"leaf_index": index, "record_id": record_id, "version": version}
                    for record_id, version in entry_targets
                )
                hashes.extend(
                    {"stored_index": stored_index(node), "hash": digest}
                    for node, digest in tree.append(leaf_hash(canonical))
                )
            feed = self._feed_rows(connection, publishes)
            # Thousands of rows a batch, one multi-row statement per table.
            batches = ((_leaf, leaves), (_target, targets), (_hash, hashes), (_feed, feed))
            for table, batch in batches:
                if batch:
                    connection.execute(insert(table), batch)
            if (feed or referral_steps) and connection.dialect.name == "postgresql":
                connection.execute(select(func.pg_notify("exchange_feed", "")))
            connection.commit()
        if feed:
            self._feed_next += len(feed)
            self._feed_added_at = feed[-1]["added_at"]
        if feed or referral_steps:
            announce_feed()
        for seq, _ in rows:
            self._holes.pop(seq, None)
        for seq in new_holes:
            self._holes[seq] = now
        self._range, self._high_seq = tree, high
        return len(rows)

    def _feed_rows(self, connection: Connection, publishes: dict[str, int]) -> list[dict[str, Any]]:
        """Feed positions for the versions the batch's publishes created, in leaf order.

        A publish's entry names every version it touched, replays included; the versions
        it created are those whose row carries its entry id. Each is dated when it was
        received, but strictly after the position before it (TAXII 2.1 §3.4.1 added_after).
        """
        if not publishes:
            return []
        created: list[tuple[int, int, int, datetime]] = []
        ids = list(publishes)
        for start in range(0, len(ids), _ID_CHUNK):
            for record_pk, version, entry_id, received_at in connection.execute(
                select(
                    _version.c.record_pk,
                    _version.c.version,
                    _version.c.audit_entry_id,
                    _version.c.received_at,
                ).where(_version.c.audit_entry_id.in_(ids[start : start + _ID_CHUNK]))
            ):
                created.append(
                    (publishes[entry_id], int(record_pk), int(version), as_utc(received_at))
                )
        created.sort()
        rows = []
        added_at = self._feed_added_at
        for offset, (leaf_index, record_pk, version, received_at) in enumerate(created):
            added_at = (
                received_at
                if added_at is None or received_at > added_at
                else added_at + _ADDED_STEP
            )
            rows.append(
                {
                    "position": self._feed_next + offset,
                    "record_pk": record_pk,
                    "version": version,
                    "leaf_index": leaf_index,
                    "added_at": added_at,
                }
            )
        return rows

    def _maybe_checkpoint(self, when: bool | None) -> int | None:
        assert self._range is not None
        size = self._range.size
        if when is False or size <= self._checkpoint_size:
            return None
        if when is None and self.clock() - self._checkpoint_at < self.checkpoint_interval:
            return None
        body = Checkpoint(origin=self.origin, size=size, root=self._range.root()).body()
        note = sign_note(body, signers=[self.signer])
        with self.engine.connect() as connection:
            connection.execute(
                _INSERT_CHECKPOINT,
                {
                    "size": size,
                    "root": self._range.root(),
                    "note": note.decode("utf-8"),
                    "created_at": self.now(),
                },
            )
            connection.commit()
        self._checkpoint_size, self._checkpoint_at = size, self.clock()
        return size
