from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from exchange.columns import UTCDateTime
from exchange.extensions import db

UPLOAD_STATES = ("pending", "published", "refused")


class ImportUpload(db.Model):  # type: ignore[name-defined]
    """An uploaded sheet, read and checked, kept until its uploader confirms it: the rows
    published are the rows the report showed, never a second upload."""

    __tablename__ = "import_upload"
    __table_args__ = (Index("ix_import_upload_user", "user_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agency.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    filename: Mapped[str] = mapped_column(String(200))
    encoding: Mapped[str] = mapped_column(String(40))
    record_type: Mapped[str] = mapped_column(String(32))
    row_count: Mapped[int] = mapped_column(Integer)
    # The plan as JSON: rows (record id, payload, envelope settings) and problems.
    plan: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
