from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
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


class AuditEntry(db.Model):  # type: ignore[name-defined]
    """One access, as the RFC 8785 bytes the Merkle tree hashes: the evidence itself.

    The database refuses UPDATE and DELETE on this table (triggers in the migrations).
    What auditors query by is derived from these bytes into ``audit_leaf``.
    """

    __tablename__ = "audit_entry"
    __table_args__ = (append_only(),)

    # Insertion order only: not a safe cursor under concurrent writers (DESIGN §9).
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    canonical: Mapped[bytes] = mapped_column(LargeBinary)


class AuditLeaf(db.Model):  # type: ignore[name-defined]
    """An entry's leaf: the position the sequencer gave it, gap-free and in commit order
    (DESIGN §9), with the fields of its bytes that auditors query by."""

    __tablename__ = "audit_leaf"
    __table_args__ = (
        Index("ix_audit_leaf_action", "action", "leaf_index"),
        Index("ix_audit_leaf_agency", "actor_agency", "leaf_index"),
        Index("ix_audit_leaf_recorded_at", "recorded_at"),
        Index("ix_audit_leaf_user", "actor_user", "leaf_index"),
        Index("ix_audit_leaf_system", "actor_system", "leaf_index"),
        Index("ix_audit_leaf_account", "account_user", "leaf_index"),
        append_only(),
    )

    leaf_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry_seq: Mapped[int] = mapped_column(Integer, unique=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    status: Mapped[int] = mapped_column(Integer)
    actor_agency: Mapped[str | None] = mapped_column(String(32), default=None)
    actor_system: Mapped[str | None] = mapped_column(String(64), default=None)
    actor_fingerprint: Mapped[str | None] = mapped_column(String(64), default=None)
    purpose: Mapped[str | None] = mapped_column(String(32), default=None)
    actor_user: Mapped[str | None] = mapped_column(String(64), default=None)
    # The account the entry concerns (a sign-in's, an administered user's): who was acted on.
    account_user: Mapped[str | None] = mapped_column(String(64), default=None)


class AuditTarget(db.Model):  # type: ignore[name-defined]
    """Record versions a leaf's entry touched, so a record's trail is one index lookup."""

    __tablename__ = "audit_target"
    __table_args__ = (Index("ix_audit_target_record", "record_id", "leaf_index"), append_only())

    leaf_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    record_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class AuditHash(db.Model):  # type: ignore[name-defined]
    """A perfect subtree's hash, keyed by ``audit.tree.stored_index``."""

    __tablename__ = "audit_hash"
    __table_args__ = (append_only(),)

    stored_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditCheckpoint(db.Model):  # type: ignore[name-defined]
    """A C2SP tlog-checkpoint signed by the exchange; ``note`` is the signed note."""

    __tablename__ = "audit_checkpoint"
    __table_args__ = (append_only(),)

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditCosignature(db.Model):  # type: ignore[name-defined]
    """A witness's C2SP tlog-cosignature line for one checkpoint."""

    __tablename__ = "audit_cosignature"
    __table_args__ = (
        UniqueConstraint("checkpoint_size", "witness"),
        Index("ix_audit_cosignature_witness", "witness", "id"),
        append_only(),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checkpoint_size: Mapped[int] = mapped_column(BigInteger, ForeignKey("audit_checkpoint.size"))
    agency_id: Mapped[str] = mapped_column(String(32), ForeignKey("agency.id"))
    kid: Mapped[str] = mapped_column(String(64), ForeignKey("signing_key.kid"))
    witness: Mapped[str] = mapped_column(String(200))
    line: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
