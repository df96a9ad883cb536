"""Dead letters: events push delivery gave up on, parked until someone redrives them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from exchange.clock import rfc3339, utcnow
from exchange.extensions import db
from exchange.feeds.events import EventPage
from exchange.feeds.models import DeadLetter, Subscription

_subscription = Subscription.__table__
_dead = DeadLetter.__table__
RECOVERED: dict[str, Any] = {
    "attempts": 0,
    "failing_since": None,
    "next_attempt_at": None,
    "last_error": None,
}


def set_subscription(connection: Connection, subscription_id: str, **values: Any) -> None:
    connection.execute(
        update(_subscription).where(_subscription.c.id == subscription_id).values(**values)
    )


def park(
    connection: Connection,
    subscription: Any,
    page: EventPage,
    parked: list[int],
    error: str,
    attempts: int,
    now: datetime,
) -> None:
    if parked:
        finish_redrive(connection, subscription.id, parked, now, delivered=False)
    else:
        connection.execute(
            _dead.insert(),
            [
                {
                    "subscription_id": subscription.id,
                    "position": position,
                    "state": "parked",
                    "attempts": attempts,
                    "reason": error[:500],
                    "parked_at": now,
                }
                for position in page.positions
            ],
        )
        set_subscription(connection, subscription.id, cursor=page.next_cursor)
    set_subscription(
        connection,
        subscription.id,
        attempts=0,
        failing_since=None,
        next_attempt_at=None,
        last_error=error[:500],
    )


def finish_redrive(
    connection: Connection,
    subscription_id: str,
    positions: list[int],
    now: datetime,
    *,
    delivered: bool,
) -> None:
    values: dict[str, Any] = (
        {"state": "delivered", "delivered_at": now} if delivered else {"state": "parked"}
    )
    connection.execute(
        update(_dead)
        .where(
            _dead.c.subscription_id == subscription_id,
            _dead.c.state == "redriving",
            _dead.c.position.in_(positions),
        )
        .values(**values)
    )


def dead_letter_documents(subscription_id: str) -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(DeadLetter)
        .where(DeadLetter.subscription_id == subscription_id)
        .order_by(DeadLetter.position)
    ).scalars()
    return [
        {
            "position": row.position,
            "state": row.state,
            "attempts": row.attempts,
            "reason": row.reason,
            "parked_at": rfc3339(row.parked_at),
            "redriven_at": rfc3339(row.redriven_at) if row.redriven_at else None,
            "delivered_at": rfc3339(row.delivered_at) if row.delivered_at else None,
        }
        for row in rows
    ]


def redrive(*, subscription: Subscription) -> int:
    """Send the subscription's parked events again, ahead of its feed."""
    result = db.session.execute(
        update(DeadLetter)
        .where(DeadLetter.subscription_id == subscription.id, DeadLetter.state == "parked")
        .values(state="redriving", redriven_at=utcnow())
    )
    subscription.next_attempt_at = None
    subscription.attempts = 0
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
