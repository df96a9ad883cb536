from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from exchange.agencies.models import System
from exchange.columns import UTCDateTime
from exchange.extensions import db

KEY_STATUSES = ("active", "retired", "revoked")


class Certificate(db.Model):  # type: ignore[name-defined]
    """A client certificate; the database, not the subject, says whose it is."""

    __tablename__ = "certificate"

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"), index=True)
    # X.509 serials run to 159 bits, beyond any integer column.
    serial: Mapped[str] = mapped_column(String(60), unique=True)
    pem: Mapped[str] = mapped_column(Text)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    not_after: Mapped[datetime] = mapped_column(UTCDateTime())
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    revocation_reason: Mapped[str | None] = mapped_column(String(40), default=None)

    system: Mapped[System] = relationship()


class SigningKey(db.Model):  # type: ignore[name-defined]
    """An agency's public record-signing key (RFC 7517 JWK), by RFC 7638 thumbprint."""

    __tablename__ = "signing_key"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agency.id"), index=True)
    alg: Mapped[str] = mapped_column(String(16))
    jwk: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    not_after: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    compromised_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Held by the exchange for an agency without a system of its own (CustodialKey).
    custodial: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class CustodialKey(db.Model):  # type: ignore[name-defined]
    """The private half of a custodial signing key, sealed under the vault's passphrase.

    In the database rather than the key folder, so that every node of a scale-out can sign.
    """

    __tablename__ = "custodial_key"
    __table_args__ = (Index("ix_custodial_key_agency", "agency_id"),)

    kid: Mapped[str] = mapped_column(ForeignKey("signing_key.kid"), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agency.id"))
    sealed_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
