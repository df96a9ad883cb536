from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from exchange.columns import UTCDateTime
from exchange.extensions import db


class AuditEntry(db.Model):  # type: ignore[name-defined]
    """One access. ``canonical`` holds the RFC 8785 bytes the Merkle tree hashes.

    The other columns repeat fields of ``canonical`` so that auditors can query them;
    the database refuses UPDATE and DELETE on this table (triggers in the migrations).
    """

    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_action_seq", "action", "seq"),
        Index("ix_audit_entry_agency_seq", "actor_agency", "seq"),
        Index("ix_audit_entry_recorded_at", "recorded_at"),
    )

    # Insertion order only: not a safe cursor under concurrent writers (DESIGN §9).
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    status: Mapped[int] = mapped_column(Integer)
    actor_agency: Mapped[str | None] = mapped_column(String(32), default=None)
    actor_system: Mapped[str | None] = mapped_column(String(64), default=None)
    actor_fingerprint: Mapped[str | None] = mapped_column(String(64), default=None)
    purpose: Mapped[str | None] = mapped_column(String(32), default=None)
    canonical: Mapped[bytes] = mapped_column(LargeBinary)


class AuditTarget(db.Model):  # type: ignore[name-defined]
    """Record versions an entry touched, so a record's trail is one index lookup."""

    __tablename__ = "audit_target"
    __table_args__ = (Index("ix_audit_target_record", "record_id", "entry_seq"),)

    entry_seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
