"""Certificates as administrators watch them: status and expiry ahead."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from exchange.clock import as_utc, utcnow
from exchange.extensions import db
from exchange.pki.models import Certificate

# A certificate this close to its end is renewed now, while the system still works.
EXPIRY_WARNING = timedelta(days=30)


def certificate_status(certificate: Certificate, now: datetime) -> str:
    """``revoked``, ``expired``, ``pending`` (not yet valid), ``expiring`` or ``valid``."""
    if certificate.revoked_at is not None:
        return "revoked"
    not_after = as_utc(certificate.not_after)
    if not_after <= now:
        return "expired"
    if as_utc(certificate.not_before) > now:
        return "pending"
    if not_after - now <= EXPIRY_WARNING:
        return "expiring"
    return "valid"


@dataclass(frozen=True)
class CertificateRow:
    certificate: Certificate
    status: str
    days_left: int


@dataclass(frozen=True)
class CertificateOverview:
    by_system: dict[int, list[CertificateRow]]
    # Certificates still in use that end within EXPIRY_WARNING, the soonest first.
    expiring: list[CertificateRow]
    expired: int
    usable: int


def _row(certificate: Certificate, now: datetime) -> CertificateRow:
    left = as_utc(certificate.not_after) - now
    return CertificateRow(certificate, certificate_status(certificate, now), left.days)


def certificate_overview(system_ids: list[int] | None = None) -> CertificateOverview:
    now = utcnow()
    query = select(Certificate).order_by(Certificate.not_after, Certificate.fingerprint)
    if system_ids is not None:
        query = query.where(Certificate.system_id.in_(system_ids))
    rows = [_row(c, now) for c in db.session.scalars(query)]
    by_system: dict[int, list[CertificateRow]] = defaultdict(list)
    for row in rows:
        by_system[row.certificate.system_id].append(row)
    # Newest first within a system: the one in use is usually on top.
    for system_rows in by_system.values():
        system_rows.reverse()
    return CertificateOverview(
        by_system=dict(by_system),
        expiring=[r for r in rows if r.status == "expiring"],
        expired=sum(1 for r in rows if r.status == "expired"),
        usable=sum(1 for r in rows if r.status in ("valid", "expiring")),
    )
