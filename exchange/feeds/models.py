from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from exchange.columns import UTCDateTime, append_only
from exchange.extensions import db


class FeedPosition(db.Model):  # type: ignore[name-defined]
    """A record version's place in the feed: what every subscription reads in order."""

    __tablename__ = "record_feed"
    __table_args__ = (
        UniqueConstraint("record_pk", "version"),
        Index("ix_record_feed_added_at", "added_at"),
        append_only(),
    )

    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    record_pk: Mapped[int] = mapped_column(ForeignKey("record.pk"))
    version: Mapped[int] = mapped_column(Integer)
    leaf_index: Mapped[int] = mapped_column(BigInteger)
    # When the version joined the feed, as TAXII's date_added: its received_at, but always
    # later than the position before, so that a reader going by it never skips a version
    # that committed after a later-received one. Always set; nullable only because SQLite
    # cannot add a NOT NULL column to a table that has rows (migration 0009).
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=True)


class Subscription(db.Model):  # type: ignore[name-defined]
    """An agency system's standing interest in record types, narrowed by filters."""

    __tablename__ = "subscription"
    __table_args__ = (
        Index("ix_subscription_agency", "agency_id", "state"),
        Index("ix_subscription_due", "mode", "state", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agency.id"))
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"))
    name: Mapped[str] = mapped_column(String(100))
    # What it follows: "records" (the record feed, by position) or "referrals" (the
    # agency's referral events, by the leaf index of the step's audit entry).
    feed: Mapped[str] = mapped_column(String(16), default="records", server_default="records")
    # Space-separated record types (none for the referral events).
    types: Mapped[str] = mapped_column(String(100))
    # JSON object: filter name -> list of accepted values.
    filters: Mapped[str] = mapped_column(Text)
    mode: Mapped[str] = mapped_column(String(8))
    endpoint: Mapped[str | None] = mapped_column(String(500), default=None)
    state: Mapped[str] = mapped_column(String(12))
    # The last position acknowledged (pull) or delivered (push).
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)


class DeadLetter(db.Model):  # type: ignore[name-defined]
    """An event push delivery gave up on: parked until an operator redrives it."""

    __tablename__ = "dead_letter"
    __table_args__ = (Index("ix_dead_letter_subscription", "subscription_id", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("subscription.id"))
    position: Mapped[int] = mapped_column(BigInteger)
    # parked | redriving | delivered
    state: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500))
    parked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    redriven_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
