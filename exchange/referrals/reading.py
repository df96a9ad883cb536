"""Reading referrals: inbox and outbox, one referral with its signed history, the feed.

A referral is seen by its sender and its receivers only; to anyone else it does not exist.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import and_, exists, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from exchange.auth.actor import Actor
from exchange.clock import rfc3339
from exchange.errors import Kind, Refusal
from exchange.extensions import db
from exchange.pki.models import SigningKey
from exchange.referrals.models import (
    Referral,
    ReferralAttachment,
    ReferralEvent,
    ReferralReceiver,
    ReferralStep,
)
from exchange.referrals.service import referral_not_found
from exchange.trail.models import AuditEntry, AuditLeaf
from exchange.ui.filters import JST

BOXES = ("inbox", "outbox")
TABS = ("open", "overdue", "closed")
LIST_MAX = 200


def today_in_japan(now: datetime) -> date:
    """Due dates are days in Japan: a referral due on the 5th is overdue from the 6th, JST."""
    return now.astimezone(JST).date()


def is_overdue(due: date, state: str, today: date) -> bool:
    return state != "closed" and due < today


@dataclass
class ReferralEventPage:
    """Referral events for one push delivery, and the cursor after them."""

    events: list[bytes] = field(default_factory=list)
    referrals: list[str] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    next_cursor: int = 0
    reached_end: bool = False


@dataclass(frozen=True)
class ReferralView:
    referral: Referral
    parts: list[ReferralReceiver]
    today: date

    @property
    def document(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.referral.canonical)
        return parsed

    @property
    def closed(self) -> bool:
        return all(part.state == "closed" for part in self.parts)

    @property
    def overdue(self) -> bool:
        return any(is_overdue(self.referral.due, part.state, self.today) for part in self.parts)

    def part_document(self, part: ReferralReceiver) -> dict[str, Any]:
        return {
            "agency": part.agency_id,
            "state": part.state,
            "assignee": part.assignee,
            "outcome": part.outcome,
            "acknowledged_at": rfc3339(part.acknowledged_at) if part.acknowledged_at else None,
            "closed_at": rfc3339(part.closed_at) if part.closed_at else None,
            "overdue": is_overdue(self.referral.due, part.state, self.today),
        }

    def summary(self) -> dict[str, Any]:
        document = self.document
        return {
            "id": self.referral.id,
            "kind": self.referral.kind,
            "sender": self.referral.sender_id,
            "due": self.referral.due.isoformat(),
            "issued_at": document["issued_at"],
            "records": document["records"],
            "requested_action": document["requested_action"],
            "receivers": [self.part_document(part) for part in self.parts],
            "closed": self.closed,
            "overdue": self.overdue,
        }


def _visible_to(actor: Actor) -> ColumnElement[bool]:
    received = exists().where(
        ReferralReceiver.referral_pk == Referral.pk,
        ReferralReceiver.agency_id == actor.agency_id,
    )
    return (Referral.sender_id == actor.agency_id) | received


def _views(referrals: Sequence[Referral], today: date) -> list[ReferralView]:
    parts: dict[int, list[ReferralReceiver]] = {}
    if referrals:
        for part in db.session.scalars(
            select(ReferralReceiver)
            .where(ReferralReceiver.referral_pk.in_([r.pk for r in referrals]))
            .order_by(ReferralReceiver.agency_id)
        ):
            parts.setdefault(part.referral_pk, []).append(part)
    return [ReferralView(r, parts.get(r.pk, []), today) for r in referrals]


def list_referrals(
    *,
    actor: Actor,
    box: str,
    tab: str,
    now: datetime,
    kind: str | None = None,
    agency: str | None = None,
    limit: int = 50,
) -> list[ReferralView]:
    """The inbox (referrals to the actor's agency, by its own part's state) or the outbox
    (referrals it sent: open while any receiver has not closed), newest first."""
    today = today_in_japan(now)
    query = select(Referral)
    if box == "inbox":
        mine = ReferralReceiver
        query = query.join(
            mine, and_(mine.referral_pk == Referral.pk, mine.agency_id == actor.agency_id)
        )
        open_ = mine.state != "closed"
        conditions = {
            "open": open_,
            "overdue": and_(open_, Referral.due < today),
            "closed": mine.state == "closed",
        }
        if agency:
            query = query.where(Referral.sender_id == agency)
    else:
        query = query.where(Referral.sender_id == actor.agency_id)
        pending = exists().where(
            ReferralReceiver.referral_pk == Referral.pk, ReferralReceiver.state != "closed"
        )
        conditions = {
            "open": pending,
            "overdue": and_(pending, Referral.due < today),
            "closed": ~pending,
        }
        if agency:
            query = query.where(
                exists().where(
                    ReferralReceiver.referral_pk == Referral.pk,
                    ReferralReceiver.agency_id == agency,
                )
            )
    query = query.where(conditions[tab])
    if kind:
        query = query.where(Referral.kind == kind)
    rows = db.session.scalars(
        query.order_by(Referral.issued_at.desc(), Referral.pk.desc()).limit(min(limit, LIST_MAX))
    ).all()
    return _views(rows, today)


def referral_counts(*, actor: Actor, now: datetime) -> dict[str, int]:
    """Open and overdue referrals in the agency's inbox, and overdue ones it sent."""
    today = today_in_japan(now)
    inbox = (
        select(func.count())
        .select_from(ReferralReceiver)
        .join(Referral, Referral.pk == ReferralReceiver.referral_pk)
        .where(ReferralReceiver.agency_id == actor.agency_id, ReferralReceiver.state != "closed")
    )
    outbox_overdue = (
        select(func.count(func.distinct(Referral.pk)))
        .join(ReferralReceiver, ReferralReceiver.referral_pk == Referral.pk)
        .where(
            Referral.sender_id == actor.agency_id,
            ReferralReceiver.state != "closed",
            Referral.due < today,
        )
    )
    return {
        "inbox_open": int(db.session.scalar(inbox) or 0),
        "inbox_overdue": int(db.session.scalar(inbox.where(Referral.due < today)) or 0),
        "outbox_overdue": int(db.session.scalar(outbox_overdue) or 0),
    }


def get_referral(*, actor: Actor, referral_id: str, now: datetime) -> ReferralView:
    referral = db.session.scalar(
        select(Referral).where(Referral.id == referral_id[:36], _visible_to(actor))
    )
    if referral is None:
        raise referral_not_found(referral_id)
    return _views([referral], today_in_japan(now))[0]


@dataclass(frozen=True)
class HistoryEntry:
    """A signed document of a referral's history, with the key that signed it."""

    step: str
    agency: str
    document: dict[str, Any]
    signature: str
    sha256: str
    kid: str
    custodial: bool
    received_at: datetime


def referral_history(view: ReferralView) -> list[HistoryEntry]:
    referral = view.referral
    signed_by = select(ReferralStep.kid).where(ReferralStep.referral_pk == referral.pk)
    custodial = {
        kid: bool(flag)
        for kid, flag in db.session.execute(
            select(SigningKey.kid, SigningKey.custodial).where(
                SigningKey.kid.in_(signed_by) | (SigningKey.kid == referral.kid)
            )
        )
    }
    history = [
        HistoryEntry(
            "sent",
            referral.sender_id,
            view.document,
            referral.signature,
            referral.sha256,
            referral.kid,
            bool(custodial.get(referral.kid)),
            referral.received_at,
        )
    ]
    for step in db.session.scalars(
        select(ReferralStep)
        .where(ReferralStep.referral_pk == referral.pk)
        .order_by(ReferralStep.received_at, ReferralStep.issued_at)
    ):
        history.append(
            HistoryEntry(
                step.step,
                step.agency_id,
                json.loads(step.canonical),
                step.signature,
                step.sha256,
                step.kid,
                bool(custodial.get(step.kid)),
                step.received_at,
            )
        )
    return history


def referral_document(view: ReferralView) -> dict[str, Any]:
    """One referral over the API: the signed referral and every signed step after it."""
    history = referral_history(view)
    return {
        **view.summary(),
        "referral": history[0].document,
        "signature": history[0].signature,
        "sha256": history[0].sha256,
        "kid": history[0].kid,
        "received_at": rfc3339(view.referral.received_at),
        "steps": [
            {
                "step": entry.document,
                "signature": entry.signature,
                "sha256": entry.sha256,
                "kid": entry.kid,
                "received_at": rfc3339(entry.received_at),
            }
            for entry in history[1:]
        ],
    }


def _event_rows(
    connection: Connection,
    agency_id: str,
    *,
    after: int,
    limit: int,
    positions: Sequence[int] | None = None,
) -> list[Any]:
    query = (
        select(
            AuditLeaf.leaf_index,
            ReferralEvent.step,
            ReferralEvent.step_id,
            ReferralEvent.created_at,
            Referral.id,
            Referral.kind,
            Referral.sender_id,
            func.coalesce(ReferralStep.agency_id, Referral.sender_id),
        )
        .join(AuditEntry, AuditEntry.id == ReferralEvent.audit_entry_id)
        .outerjoin(ReferralStep, ReferralStep.id == ReferralEvent.step_id)
        .join(AuditLeaf, AuditLeaf.entry_seq == AuditEntry.seq)
        .join(Referral, Referral.pk == ReferralEvent.referral_pk)
        .where(ReferralEvent.agency_id == agency_id, AuditLeaf.leaf_index > after)
        .order_by(AuditLeaf.leaf_index, ReferralEvent.id)
        .limit(limit)
    )
    if positions is not None:
        query = query.where(AuditLeaf.leaf_index.in_(sorted(set(positions))))
    return list(connection.execute(query).all())


def _event_document(row: Any) -> dict[str, Any]:
    position, step, step_id, created_at, referral_id, kind, sender, agency = row
    return {
        "position": position,
        "referral": referral_id,
        "step": step,
        "step_id": step_id,
        "kind": kind,
        "sender": sender,
        "agency": agency,
        "at": rfc3339(created_at),
    }


def referral_events(*, actor: Actor, after: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    """The agency's referral events after position ``after``, and the cursor after them.

    A position is the leaf index of the audit entry of the request that took the step,
    given by the integrator in commit order: a reader that moved past one never misses
    an event that commits later.
    """
    rows = _event_rows(db.session.connection(), actor.agency_id or "", after=after, limit=limit)
    return [_event_document(row) for row in rows], (int(rows[-1][0]) if rows else after)


def referral_event_page(
    connection: Connection,
    agency_id: str,
    *,
    after: int,
    limit: int,
    positions: Sequence[int] | None = None,
) -> ReferralEventPage:
    """The agency's referral events as push delivery sends them.

    Each has an ``event_id`` of its own (``referral-`` and its position and referral), so
    that a receiver taking both feeds at one endpoint never confuses it with a record's.
    """
    rows = _event_rows(connection, agency_id, after=after, limit=limit, positions=positions)
    page = ReferralEventPage(
        next_cursor=int(rows[-1][0]) if rows and positions is None else after,
        reached_end=positions is None and len(rows) < limit,
    )
    for row in rows:
        document = _event_document(row)
        event_id = f"referral-{document['position']}-{document['referral']}"
        page.events.append(orjson.dumps({"event_id": event_id, **document}))
        page.referrals.append(document["referral"])
        page.positions.append(int(document["position"]))
    return page


def referral_events_after(agency_id: Any, cursor: Any) -> ColumnElement[bool]:
    """Whether the agency has referral events after ``cursor`` (columns or values)."""
    return exists(
        select(ReferralEvent.id)
        .join(AuditEntry, AuditEntry.id == ReferralEvent.audit_entry_id)
        .join(AuditLeaf, AuditLeaf.entry_seq == AuditEntry.seq)
        .where(ReferralEvent.agency_id == agency_id, AuditLeaf.leaf_index > cursor)
    )


def last_leaf_index(connection: Connection) -> int:
    """Where a new follower of referral events starts: every step integrated so far."""
    return int(connection.execute(select(func.max(AuditLeaf.leaf_index))).scalar() or 0)


def referral_attachment(view: ReferralView, sha256: str) -> tuple[dict[str, Any], bytes]:
    """An attachment the signed referral names, and its bytes."""
    declared = {a["sha256"]: a for a in view.document.get("attachments", [])}
    stored = (
        db.session.get(ReferralAttachment, (view.referral.pk, sha256))
        if sha256 in declared
        else None
    )
    if stored is None:
        raise Refusal(
            Kind.NOT_FOUND,
            "referral_attachment_not_found",
            "No such attachment",
            "The referral names no attachment with this SHA-256.",
        )
    return declared[sha256], bytes(stored.content)
