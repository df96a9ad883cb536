"""Disposal of records past their retention date: payload and search rows destroyed.

What stays proves what existed: every version's SHA-256, the publisher's detached JWS
(its protected header names algorithm, key and type; the payload is not in it), the
exchange's receipt, and every audit leaf. ``record_version.canonical`` is emptied under
a ``record_disposal`` row, the one change the database allows on that table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import ColumnElement, Exists, and_, delete, exists, insert, not_, select, update

from exchange.extensions import db
from exchange.records.disposed import DISPOSED
from exchange.records.models import (
    Record,
    RecordAudience,
    RecordCard,
    RecordGram,
    RecordTag,
    RecordVersion,
)
from exchange.retention.models import LegalHold, RecordDisposal

_record = Record.__table__
_version = RecordVersion.__table__
_disposal = RecordDisposal.__table__
_hold = LegalHold.__table__
_SEARCH_ROWS = (
    RecordAudience.__table__,
    RecordCard.__table__,
    RecordGram.__table__,
    RecordTag.__table__,
)


@dataclass
class Disposal:
    """What one run disposed of: the versions, as audit targets, and the records held back."""

    versions: list[tuple[str, int]] = field(default_factory=list)
    held: int = 0

    @property
    def records(self) -> int:
        return len({record_id for record_id, _ in self.versions})


def holding(record_pk: ColumnElement[int]) -> Exists:
    """SQL: an approved hold that has not been lifted stops the record's disposal."""
    return exists().where(
        and_(
            _hold.c.record_pk == record_pk,
            _hold.c.approved_at.is_not(None),
            _hold.c.lifted_at.is_(None),
        )
    )


def _past(today: date) -> ColumnElement[bool]:
    # retention_until is the last day the record may be kept.
    return and_(_record.c.retention_until < today, _record.c.status != DISPOSED)


def dispose_due(*, today: date, now: datetime, entry_id: str, limit: int) -> Disposal:
    """Dispose of up to ``limit`` records past their retention date and not held.

    Runs in the session's transaction, with the run's audit entry ``entry_id`` added by
    the caller: the disposal rows name that entry.
    """
    connection = db.session.connection()
    result = Disposal()
    result.held = int(
        connection.execute(
            select(db.func.count()).select_from(_record).where(_past(today), holding(_record.c.pk))
        ).scalar_one()
    )
    due = connection.execute(
        select(_record.c.pk, _record.c.id)
        .where(_past(today), not_(holding(_record.c.pk)))
        .order_by(_record.c.pk)
        .limit(limit)
        # Two servers' runs at once on PostgreSQL take different records.
        .with_for_update(of=_record, skip_locked=True)
    ).all()
    if not due:
        return result
    ids = {pk: record_id for pk, record_id in due}
    pks = sorted(ids)
    versions = connection.execute(
        select(_version.c.record_pk, _version.c.version)
        .where(_version.c.record_pk.in_(pks))
        .order_by(_version.c.record_pk, _version.c.version)
    ).all()
    # The disposal rows first: the trigger on record_version lets canonical be emptied
    # only for a version they name.
    connection.execute(
        insert(_disposal),
        [
            {"record_pk": pk, "version": version, "disposed_at": now, "audit_entry_id": entry_id}
            for pk, version in versions
        ],
    )
    connection.execute(update(_version).where(_version.c.record_pk.in_(pks)).values(canonical=b""))
    connection.execute(
        update(_record)
        .where(_record.c.pk.in_(pks))
        .values(
            status=DISPOSED,
            names="",
            countries=",",
            prefecture=None,
            category=None,
            # With the audience gone nothing restricted is left: the record's id, type and
            # publisher answer 410 to whoever the policy lets read its type.
            audience_restricted=False,
        )
    )
    for table in _SEARCH_ROWS:
        connection.execute(delete(table).where(table.c.record_pk.in_(pks)))
    result.versions = [(ids[pk], version) for pk, version in versions]
    return result
