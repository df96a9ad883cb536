from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from exchange.columns import UTCDateTime, append_only
from exchange.extensions import db


class TaxiiStatus(db.Model):  # type: ignore[name-defined]
    """The outcome of one TAXII Add Objects request (TAXII 2.1 §4.3.1), for the agency
    that posted it.

    Every object is settled before the request answers, so a status is complete when it
    is written and never changes.
    """

    __tablename__ = "taxii_status"
    __table_args__ = (Index("ix_taxii_status_agency", "agency_id"), append_only())

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agency.id"))
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"))
    collection_id: Mapped[str] = mapped_column(String(36))
    request_timestamp: Mapped[datetime] = mapped_column(UTCDateTime())
    # The request's audit entry, which names the versions it published.
    audit_entry_id: Mapped[str] = mapped_column(String(36))
    total_count: Mapped[int] = mapped_column(Integer)
    success_count: Mapped[int] = mapped_column(Integer)
    failure_count: Mapped[int] = mapped_column(Integer)
    pending_count: Mapped[int] = mapped_column(Integer)
    # {"successes": [...], "failures": [...], "pendings": [...]}: status details as JSON.
    details: Mapped[str] = mapped_column(Text)
