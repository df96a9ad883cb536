"""Access trails: who touched what, when and why, read from the integrated leaves.

Every common filter has an index to go by (DESIGN §7): a record's trail starts from
``audit_target`` by record id, a user's, system's or agency's from ``audit_leaf``'s
index on that column, each ordered by leaf index so pages are keysets, newest first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.engine import Connection

from exchange.trail.models import AuditEntry, AuditLeaf, AuditTarget

_entry = AuditEntry.__table__
_leaf = AuditLeaf.__table__
_target = AuditTarget.__table__

# Refusals by the policy or the roles, and sign-ins that failed, whatever their status.
DENIAL_ACTIONS = ("auth.denied", "auth.login.failed")
# The outcome filter's value for every refused or invalid attempt.
ATTEMPTS = "attempts"
# A browser's fetches of stylesheets, scripts and the icon: logged like every request,
# but three or more to a page view, so the trail shows them only when asked to.
RESOURCE_ACTIONS = ("request.static",)


@dataclass(frozen=True)
class TrailFilter:
    """What a trail shows; times are UTC, ``until`` exclusive."""

    record: str | None = None
    user: str | None = None
    system: str | None = None
    agency: str | None = None
    action: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    resources: bool = False

    def document(self) -> dict[str, Any]:
        """The filters as an audit entry records them."""
        chosen: dict[str, Any] = {}
        for name in ("record", "user", "system", "agency", "action", "outcome", "resources"):
            value = getattr(self, name)
            if value:
                chosen[name] = value
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None:
                chosen[name] = value.strftime("%Y-%m-%dT%H:%M:%SZ")
        return chosen


@dataclass(frozen=True)
class TrailRow:
    leaf_index: int
    entry_id: str
    recorded_at: datetime
    action: str
    outcome: str
    status: int
    agency: str | None
    system: str | None
    user: str | None
    purpose: str | None
    # The account the entry concerns when it names one: a sign-in's, an administered user's.
    account: str | None = None
    targets: list[tuple[str, int]] = field(default_factory=list)

    @property
    def attempt(self) -> bool:
        return self.status >= 400 or self.action in DENIAL_ACTIONS


@dataclass(frozen=True)
class TrailPage:
    rows: list[TrailRow]
    next_before: int | None


def is_attempt(status: Any, action: Any) -> Any:
    """Denied and invalid attempts: a refusal, an invalid request, a failed sign-in."""
    return or_(status >= 400, action.in_(DENIAL_ACTIONS))


def filtered_leaves(selection: TrailFilter) -> Select[Any]:
    """Leaves matching ``selection`` with their entries' ids, not yet ordered."""
    leaf = _leaf
    source: Any = leaf.join(_entry, _entry.c.seq == leaf.c.entry_seq)
    if selection.record:
        # The record's leaves from the target index first (a leaf may name several
        # versions of one record): the rest of the log is never read for a record's trail.
        touched = (
            select(_target.c.leaf_index)
            .where(_target.c.record_id == selection.record)
            .distinct()
            .subquery()
        )
        source = source.join(touched, touched.c.leaf_index == leaf.c.leaf_index)
    query = select(
        leaf.c.leaf_index,
        _entry.c.id,
        leaf.c.recorded_at,
        leaf.c.action,
        leaf.c.outcome,
        leaf.c.status,
        leaf.c.actor_agency,
        leaf.c.actor_system,
        leaf.c.actor_user,
        leaf.c.purpose,
        leaf.c.account_user,
    ).select_from(source)
    if selection.user:
        # A user's trail: what they did, and what was done to their account (failed
        # sign-ins by someone not yet identified, an administrator's changes).
        query = query.where(
            or_(leaf.c.actor_user == selection.user, leaf.c.account_user == selection.user)
        )
    for column, value in (
        (leaf.c.actor_system, selection.system),
        (leaf.c.actor_agency, selection.agency),
        (leaf.c.action, selection.action),
    ):
        if value:
            query = query.where(column == value)
    if not selection.resources and selection.action not in RESOURCE_ACTIONS:
        query = query.where(leaf.c.action.not_in(RESOURCE_ACTIONS))
    if selection.outcome == ATTEMPTS:
        query = query.where(is_attempt(leaf.c.status, leaf.c.action))
    elif selection.outcome:
        query = query.where(leaf.c.outcome == selection.outcome)
    if selection.since is not None:
        query = query.where(leaf.c.recorded_at >= selection.since)
    if selection.until is not None:
        query = query.where(leaf.c.recorded_at < selection.until)
    return query


def targets_of(connection: Connection, indexes: list[int]) -> dict[int, list[tuple[str, int]]]:
    found: dict[int, list[tuple[str, int]]] = {index: [] for index in indexes}
    if not indexes:
        return found
    rows = connection.execute(
        select(_target.c.leaf_index, _target.c.record_id, _target.c.version)
        .where(_target.c.leaf_index.in_(indexes))
        .order_by(_target.c.leaf_index, _target.c.record_id, _target.c.version)
    )
    for index, record_id, version in rows:
        found[int(index)].append((record_id, int(version)))
    return found


def _row(row: Any, targets: list[tuple[str, int]]) -> TrailRow:
    return TrailRow(
        leaf_index=int(row.leaf_index),
        entry_id=row.id,
        recorded_at=row.recorded_at,
        action=row.action,
        outcome=row.outcome,
        status=int(row.status),
        agency=row.actor_agency,
        system=row.actor_system,
        user=row.actor_user,
        purpose=row.purpose,
        account=row.account_user,
        targets=targets,
    )


def trail_page(
    connection: Connection, *, selection: TrailFilter, before: int | None, limit: int
) -> TrailPage:
    """One page of the trail, newest first: leaves below ``before`` (a keyset cursor)."""
    query = filtered_leaves(selection).order_by(_leaf.c.leaf_index.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(_leaf.c.leaf_index < before)
    rows = connection.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    targets = targets_of(connection, [int(row.leaf_index) for row in rows])
    page = [_row(row, targets[int(row.leaf_index)]) for row in rows]
    return TrailPage(rows=page, next_before=page[-1].leaf_index if more and page else None)


def count_at_most(connection: Connection, *, selection: TrailFilter, size: int, bound: int) -> int:
    """How many leaves below ``size`` match, counting no further than ``bound``."""
    matching = filtered_leaves(selection).where(_leaf.c.leaf_index < size).limit(bound).subquery()
    return len(connection.execute(select(matching.c.leaf_index)).all())


def matching_entries(
    connection: Connection, *, selection: TrailFilter, size: int, batch: int = 1000
) -> Iterator[list[tuple[int, bytes]]]:
    """Batches of (leaf index, canonical bytes) below ``size``, oldest first."""
    last = -1
    while True:
        chosen = (
            filtered_leaves(selection)
            .where(_leaf.c.leaf_index > last, _leaf.c.leaf_index < size)
            .order_by(_leaf.c.leaf_index)
            .limit(batch)
            .subquery()
        )
        rows = connection.execute(
            select(chosen.c.leaf_index, _entry.c.canonical)
            .select_from(chosen.join(_entry, _entry.c.id == chosen.c.id))
            .order_by(chosen.c.leaf_index)
        ).all()
        if not rows:
            return
        yield [(int(index), bytes(canonical)) for index, canonical in rows]
        last = int(rows[-1][0])


@dataclass(frozen=True)
class EntryView:
    leaf_index: int
    entry_id: str
    canonical: bytes
    document: dict[str, Any]

    @property
    def pretty(self) -> str:
        return json.dumps(self.document, ensure_ascii=False, indent=2, sort_keys=True)

    @property
    def actor(self) -> dict[str, Any]:
        actor: dict[str, Any] = self.document.get("actor") or {}
        return actor

    @property
    def record_ids(self) -> list[str]:
        targets = self.document.get("targets") or []
        return list(dict.fromkeys(str(t.get("id")) for t in targets if isinstance(t, dict)))


def entry_at(connection: Connection, leaf_index: int) -> EntryView | None:
    row = connection.execute(
        select(_leaf.c.leaf_index, _entry.c.id, _entry.c.canonical)
        .select_from(_leaf.join(_entry, _entry.c.seq == _leaf.c.entry_seq))
        .where(_leaf.c.leaf_index == leaf_index)
    ).first()
    if row is None:
        return None
    canonical = bytes(row.canonical)
    return EntryView(
        leaf_index=int(row.leaf_index),
        entry_id=row.id,
        canonical=canonical,
        document=json.loads(canonical),
    )
