"""Web sessions: a random token in a signed cookie, its hash in the database.

The database row is what makes a session valid, so signing out, an idle timeout, a reset
second factor or a disabled account end it on the server, whatever the browser still holds.
A new token is issued at every sign-in (no session fixation).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select, update

from exchange.auth.models import User, WebSession
from exchange.clock import as_utc, utcnow
from exchange.extensions import db


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(user: User, *, address: str | None) -> str:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(
        WebSession(
            token_hash=_hash(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            address=address,
        )
    )
    return token


def resume_session(
    token: str, *, idle: timedelta, lifetime: timedelta
) -> tuple[User, WebSession] | None:
    """The session's user, if the session is open, not idle too long and not too old."""
    row = db.session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == _hash(token))
    ).first()
    if row is None:
        return None
    web_session, user = row
    now = utcnow()
    if (
        web_session.ended_at is not None
        or user.disabled_at is not None
        or as_utc(web_session.last_seen_at) + idle <= now
        or as_utc(web_session.created_at) + lifetime <= now
    ):
        if web_session.ended_at is None:
            web_session.ended_at = now
        return None
    # Written at most once a minute: a page view is not worth a row update each time.
    if as_utc(web_session.last_seen_at) + timedelta(minutes=1) <= now:
        web_session.last_seen_at = now
    return user, web_session


def end_session(token: str) -> None:
    db.session.execute(
        update(WebSession)
        .where(WebSession.token_hash == _hash(token), WebSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


def end_user_sessions(user: User) -> None:
    db.session.execute(
        update(WebSession)
        .where(WebSession.user_id == user.id, WebSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
