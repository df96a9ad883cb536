"""A referral, its receivers' state, its signed steps, attachments and feed events.

What was signed is kept as it came (append-only); only each receiver's current state,
derived from those signed documents, is updated.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from exchange.columns import UTCDateTime, append_only
from exchange.extensions import db


class Referral(db.Model):  # type: ignore[name-defined]
    """A referral as the sender signed it."""

    __tablename__ = "referral"
    __table_args__ = (
        Index("ix_referral_sender", "sender_id", "issued_at"),
        append_only(),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    sender_id: Mapped[str] = mapped_column(ForeignKey("agency.id"))
    kind: Mapped[str] = mapped_column(String(32))
    due: Mapped[date] = mapped_column(Date)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    canonical: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)
    # The signature's own digest: a signature is accepted once, whatever it signs.
    signature_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    kid: Mapped[str] = mapped_column(ForeignKey("signing_key.kid"))
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"))
    audit_entry_id: Mapped[str] = mapped_column(String(36))


class ReferralReceiver(db.Model):  # type: ignore[name-defined]
    """One receiving agency's part of a referral, as its signed steps left it."""

    __tablename__ = "referral_receiver"
    __table_args__ = (Index("ix_referral_receiver_agency", "agency_id", "state"),)

    referral_pk: Mapped[int] = mapped_column(ForeignKey("referral.pk"), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agency.id"), primary_key=True)
    # sent | acknowledged | assigned | closed
    state: Mapped[str] = mapped_column(String(16))
    assignee: Mapped[str | None] = mapped_column(String(300), default=None)
    outcome: Mapped[str | None] = mapped_column(String(32), default=None)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReferralStep(db.Model):  # type: ignore[name-defined]
    """A receiver's signed step, kept as it came."""

    __tablename__ = "referral_step"
    __table_args__ = (
        Index("ix_referral_step_referral", "referral_pk", "received_at"),
        append_only(),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    referral_pk: Mapped[int] = mapped_column(ForeignKey("referral.pk"))
    agency_id: Mapped[str] = mapped_column(ForeignKey("agency.id"))
    step: Mapped[str] = mapped_column(String(16))
    canonical: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)
    signature_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    kid: Mapped[str] = mapped_column(ForeignKey("signing_key.kid"))
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    audit_entry_id: Mapped[str] = mapped_column(String(36))


class ReferralAttachment(db.Model):  # type: ignore[name-defined]
    """An attachment's bytes; the signed referral holds its name, type, size and digest."""

    __tablename__ = "referral_attachment"
    __table_args__ = (append_only(),)

    referral_pk: Mapped[int] = mapped_column(ForeignKey("referral.pk"), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class ReferralEvent(db.Model):  # type: ignore[name-defined]
    """A step of a referral on one agency's feed (the sender's and each receiver's).

    Its place in the feed is the leaf index of the audit entry of the request that made
    it: the integrator gives those in commit order, gap-free (DESIGN §9).
    """

    __tablename__ = "referral_event"
    __table_args__ = (
        UniqueConstraint("audit_entry_id", "agency_id", "referral_pk"),
        Index("ix_referral_event_agency", "agency_id", "audit_entry_id"),
        append_only(),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agency.id"))
    referral_pk: Mapped[int] = mapped_column(ForeignKey("referral.pk"))
    # sent | acknowledged | assigned | closed
    step: Mapped[str] = mapped_column(String(16))
    step_id: Mapped[str | None] = mapped_column(String(36), default=None)
    audit_entry_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReferralPolicyVersion(db.Model):  # type: ignore[name-defined]
    """Who may refer what to whom: one version of the rules; the highest is in force."""

    __tablename__ = "referral_policy_version"
    __table_args__ = (append_only(),)

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    rules: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(String(500), default="")
