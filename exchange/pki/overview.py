"""Certificates as administrators watch them: status and expiry ahead.

Agencies' client certificates from the database, and the exchange's own certificates and
receipt keys from its keys folder.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.hashes import SHA256
from sqlalchemy import select

from exchange.clock import as_utc, utcnow
from exchange.extensions import db
from exchange.pki.models import Certificate
from exchange.pki.receipt_keys import BEGINNING
from exchange.pki.vault import OWN_CERTIFICATES, Vault

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


@dataclass(frozen=True)
class OwnCertificate:
    """One of the exchange's own certificates: ``ca``, ``ca_next``, ``server``, ``delivery``."""

    name: str
    subject: str
    fingerprint: str
    not_after: datetime
    status: str
    days_left: int


@dataclass(frozen=True)
class OwnKey:
    kid: str
    status: str
    signs_from: datetime | None
    retired_at: datetime | None


@dataclass(frozen=True)
class ExchangeKeys:
    certificates: list[OwnCertificate]
    receipt_keys: list[OwnKey]

    @property
    def expiring(self) -> list[OwnCertificate]:
        return [c for c in self.certificates if c.status in ("expiring", "expired")]


def exchange_keys(vault: Vault, now: datetime | None = None) -> ExchangeKeys:
    """The exchange's certificates in the keys folder and its receipt keys, newest first."""
    now = now or utcnow()
    certificates = []
    for name, file in OWN_CERTIFICATES:
        path = vault.directory / file
        if not path.exists():
            continue
        # The first certificate of the file; server.pem carries its CA after it.
        parsed = x509.load_pem_x509_certificate(path.read_bytes())
        not_after = parsed.not_valid_after_utc
        left = not_after - now
        status = "expired" if left <= timedelta(0) else "valid"
        if status == "valid" and left <= EXPIRY_WARNING:
            status = "expiring"
        certificates.append(
            OwnCertificate(
                name=name,
                subject=parsed.subject.rfc4514_string(),
                fingerprint=parsed.fingerprint(SHA256()).hex(),
                not_after=not_after,
                status=status,
                days_left=left.days,
            )
        )
    ring = vault.receipts
    keys = [
        OwnKey(
            kid=key.kid,
            status=ring.status(key, now),
            signs_from=key.signs_from if key.signs_from > BEGINNING else None,
            retired_at=ring.retired_at(key),
        )
        for key in reversed(ring.keys)
    ]
    return ExchangeKeys(certificates=certificates, receipt_keys=keys)
