from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from exchange.columns import UTCDateTime, append_only
from exchange.extensions import db


class RecordDisposal(db.Model):  # type: ignore[name-defined]
    """A version whose payload was destroyed: never changed, never deleted.

    The database lets ``record_version.canonical`` be emptied only where a row here names
    the version (the triggers of migration 0008); every other column stays as published.
    """

    __tablename__ = "record_disposal"
    __table_args__ = (append_only(),)

    record_pk: Mapped[int] = mapped_column(ForeignKey("record.pk"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    disposed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The disposal run's audit entry, whose targets name every version it disposed of.
    audit_entry_id: Mapped[str] = mapped_column(String(36))


class LegalHold(db.Model):  # type: ignore[name-defined]
    """A hold on a record's disposal: requested by one administrator, approved by another.

    It stops disposal from its approval until it is lifted.
    """

    __tablename__ = "legal_hold"
    __table_args__ = (Index("ix_legal_hold_record", "record_pk"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_pk: Mapped[int] = mapped_column(ForeignKey("record.pk"))
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    approved_by: Mapped[str | None] = mapped_column(String(200), default=None)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    lifted_by: Mapped[str | None] = mapped_column(String(200), default=None)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    lift_reason: Mapped[str | None] = mapped_column(Text, default=None)
