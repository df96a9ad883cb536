from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from exchange.columns import UTCDateTime, append_only
from exchange.extensions import db


class Record(db.Model):  # type: ignore[name-defined]
    """The current state of a record, projected for policy checks and search."""

    __tablename__ = "record"
    __table_args__ = (
        Index("ix_record_type_pk", "type", "pk"),
        Index("ix_record_publisher_pk", "publisher", "pk"),
        Index("ix_record_prefecture_pk", "prefecture", "pk"),
        Index("ix_record_issued_at", "issued_at"),
        Index("ix_record_retention_until", "retention_until"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    publisher: Mapped[str] = mapped_column(ForeignKey("agency.id"))
    version: Mapped[int] = mapped_column(Integer)
    # active | withdrawn, as the current version says; disposed once its payload is destroyed.
    status: Mapped[str] = mapped_column(String(16))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    prefecture: Mapped[str | None] = mapped_column(String(2), default=None)
    category: Mapped[str | None] = mapped_column(String(64), default=None)
    # ",VN,CN," so that one LIKE finds a country among several.
    countries: Mapped[str] = mapped_column(String(400), default=",")
    # Folded names (exchange.records.normalize.fold), one per line, for free-text search;
    # indexed by exchange.records.textsearch.
    names: Mapped[str] = mapped_column(Text, default="")
    audience_restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    # ``handling.retention_until`` of the current version: when it may be disposed of.
    retention_until: Mapped[date | None] = mapped_column(Date, default=None)


class RecordAudience(db.Model):  # type: ignore[name-defined]
    """``handling.audience`` of a record's current version, one row per agency."""

    __tablename__ = "record_audience"

    record_pk: Mapped[int] = mapped_column(ForeignKey("record.pk"), primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(32), primary_key=True)


class RecordCard(db.Model):  # type: ignore[name-defined]
    """Residence-card matching tokens in a record's current version, for look-up by card."""

    __tablename__ = "record_card"
    __table_args__ = (Index("ix_record_card_token", "token"),)

    record_pk: Mapped[int] = mapped_column(ForeignKey("record.pk"), primary_key=True)
    token: Mapped[str] = mapped_column(String(48), primary_key=True)


class RecordGram(db.Model):  # type: ignore[name-defined]
    """Short grams of a record's folded names, for queries too short for a trigram index.

    Derived from ``record.names`` by ``exchange.records.textsearch.short_grams``, rewritten
    with it. No foreign key: these are index rows written beside the record row, and a
    check per gram would cost the publish path a lookup for each of dozens of rows.
    """

    __tablename__ = "record_gram"
    __table_args__ = ({"sqlite_with_rowid": False},)

    gram: Mapped[str] = mapped_column(String(2), primary_key=True)
    record_pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class RecordVersion(db.Model):  # type: ignore[name-defined]
    """A signed version exactly as published: never changed, never deleted."""

    __tablename__ = "record_version"
    __table_args__ = (
        Index("ix_record_version_audit_entry", "audit_entry_id"),
        append_only(disposable=("canonical",)),
    )

    record_pk: Mapped[int] = mapped_column(ForeignKey("record.pk"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(16))
    canonical: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)
    kid: Mapped[str] = mapped_column(ForeignKey("signing_key.kid"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"))
    audit_entry_id: Mapped[str] = mapped_column(String(36))
    receipt: Mapped[str] = mapped_column(Text)


class RecordTag(db.Model):  # type: ignore[name-defined]
    """Coded facts of a record's current version (exchange.records.tags), for filters and
    for finding other records about the same organisation.

    Keyed (kind, value, record_pk), so a filter reads matching records newest first from
    the key. No foreign key, as for ``record_gram``: index rows written beside the record.
    """

    __tablename__ = "record_tag"
    __table_args__ = (Index("ix_record_tag_record", "record_pk"),)

    kind: Mapped[str] = mapped_column(String(24), primary_key=True)
    value: Mapped[str] = mapped_column(String(80), primary_key=True)
    record_pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
