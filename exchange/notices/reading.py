"""Reading notices: who sees which, and a notice with its whole signed history."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from exchange.agencies.models import Agency
from exchange.auth.actor import Actor
from exchange.errors import Kind, Refusal
from exchange.extensions import db
from exchange.notices.models import Notice, NoticeStep, NoticeVersion

MOFA_KIND = "mofa"
# MOFA sees a notice once the drafting agency has approved it.
MOFA_VISIBLE = frozenset({"approved", "dispatched", "answered"})


def notice_steps(notice_id: str) -> list[NoticeStep]:
    return list(
        db.session.scalars(
            select(NoticeStep).where(NoticeStep.notice_id == notice_id).order_by(NoticeStep.seq)
        )
    )


def notice_versions(notice_id: str) -> list[NoticeVersion]:
    return list(
        db.session.scalars(
            select(NoticeVersion)
            .where(NoticeVersion.notice_id == notice_id)
            .order_by(NoticeVersion.version)
        )
    )


def current_version(notice: Notice) -> NoticeVersion:
    found = db.session.get(NoticeVersion, (notice.id, notice.version))
    if found is None:
        raise Refusal(Kind.NOT_FOUND, "notice_not_found", "No such notice")
    return found


def visible(actor: Actor, notice: Notice) -> bool:
    """The drafting agency sees its notices; MOFA those approved for dispatch and after."""
    if actor.agency_id == notice.agency_id:
        return True
    return actor.agency_kind == MOFA_KIND and notice.state in MOFA_VISIBLE


def get_notice(*, actor: Actor, notice_id: str, for_update: bool = False) -> Notice:
    """A notice the actor may see; any other is answered as if it did not exist. Read
    ``for_update`` to change it: a second step taken at once waits, then finds it moved."""
    notice = db.session.get(Notice, notice_id[:36], with_for_update=for_update)
    if notice is None or not visible(actor, notice):
        raise Refusal(Kind.NOT_FOUND, "notice_not_found", "No such notice")
    return notice


def list_notices(*, actor: Actor, states: Sequence[str] = ()) -> list[Notice]:
    """The notices the actor may see, newest change first."""
    own = Notice.agency_id == actor.agency_id
    condition = own | Notice.state.in_(MOFA_VISIBLE) if actor.agency_kind == MOFA_KIND else own
    query = select(Notice).where(condition)
    if states:
        query = query.where(Notice.state.in_(states))
    return list(db.session.scalars(query.order_by(Notice.updated_at.desc()).limit(500)))


def signed_history(notice: Notice) -> dict[str, Any]:
    """The notice with every version and every step as signed, for the API and the package."""
    versions = notice_versions(notice.id)
    agency = db.session.get(Agency, notice.agency_id)
    return {
        "id": notice.id,
        "state": notice.state,
        "agency": notice.agency_id,
        "agency_kind": agency.kind if agency is not None else None,
        "country": notice.country,
        "version": notice.version,
        "versions": [
            {
                "notice": json.loads(v.canonical),
                "signature": v.signature,
                "sha256": v.sha256,
                "kid": v.kid,
            }
            for v in versions
        ],
        "steps": [
            {
                "step": json.loads(s.canonical),
                "signature": s.signature,
                "sha256": s.sha256,
                "kid": s.kid,
            }
            for s in notice_steps(notice.id)
        ],
    }
