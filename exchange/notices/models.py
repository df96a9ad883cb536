"""A notice, its signed versions and its signed steps (drafted, approved, dispatched, answered)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from exchange.columns import UTCDateTime, append_only
from exchange.extensions import db

# draft → pending → approved → dispatched → answered; a rejection sends it back to
# "rejected", which is edited and submitted again like a draft.
NOTICE_STATES = ("draft", "pending", "rejected", "approved", "dispatched", "answered")
EDITABLE_STATES = frozenset({"draft", "rejected"})
SENT_STATES = frozenset({"dispatched", "answered"})


class Notice(db.Model):  # type: ignore[name-defined]
    """Where a notice stands: its current version and the head of its chain of steps."""

    __tablename__ = "notice"
    __table_args__ = (
        Index("ix_notice_agency_state", "agency_id", "state"),
        Index("ix_notice_state_dispatched", "state", "dispatched_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agency.id"))
    country: Mapped[str] = mapped_column(String(2))
    state: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    # SHA-256 of the latest step's bytes, or of the current version's before any step.
    head_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class NoticeVersion(db.Model):  # type: ignore[name-defined]
    """A version of a notice exactly as the drafting agency signed it."""

    __tablename__ = "notice_version"
    __table_args__ = (append_only(),)

    notice_id: Mapped[str] = mapped_column(ForeignKey("notice.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    canonical: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)
    kid: Mapped[str] = mapped_column(ForeignKey("signing_key.kid"))
    drafted_by: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"))
    audit_entry_id: Mapped[str] = mapped_column(String(36))


class NoticeStep(db.Model):  # type: ignore[name-defined]
    """A signed step: submission, approval, rejection, dispatch or answer."""

    __tablename__ = "notice_step"
    __table_args__ = (append_only(),)

    notice_id: Mapped[str] = mapped_column(ForeignKey("notice.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    step: Mapped[str] = mapped_column(String(16))
    notice_version: Mapped[int] = mapped_column(Integer)
    canonical: Mapped[bytes] = mapped_column(LargeBinary)
    # Unique: the same signed step is never taken twice.
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    signature: Mapped[str] = mapped_column(Text)
    kid: Mapped[str] = mapped_column(ForeignKey("signing_key.kid"))
    agency_id: Mapped[str] = mapped_column(ForeignKey("agency.id"))
    by_user: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"))
    audit_entry_id: Mapped[str] = mapped_column(String(36))
