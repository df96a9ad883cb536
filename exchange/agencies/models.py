from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from exchange.columns import UTCDateTime, append_only
from exchange.extensions import db

AGENCY_KINDS = ("police", "immigration", "labour", "otit", "mext", "mofa")


class Agency(db.Model):  # type: ignore[name-defined]
    __tablename__ = "agency"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name_ja: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("agency.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    systems: Mapped[list[System]] = relationship(back_populates="agency")


class System(db.Model):  # type: ignore[name-defined]
    """An agency's computer system, which talks to the API with a client certificate."""

    __tablename__ = "system"
    __table_args__ = (UniqueConstraint("agency_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agency.id"))
    name: Mapped[str] = mapped_column(String(64))
    # Space-separated roles beyond publishing and reading, e.g. "auditor".
    roles: Mapped[str] = mapped_column(String(200), default="")
    # The purpose its administrator declared for reads that cannot state one (TAXII
    # clients cannot send Exchange-Purpose); DESIGN §11.
    standing_purpose: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    agency: Mapped[Agency] = relationship(back_populates="systems")


class PolicyVersion(db.Model):  # type: ignore[name-defined]
    """One version of the sharing policy; the highest version is in force."""

    __tablename__ = "policy_version"
    __table_args__ = (append_only(),)

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    rules: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(String(500), default="")
