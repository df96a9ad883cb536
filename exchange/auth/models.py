"""People who use the web UI, their sessions, and sign-in throttling."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from exchange.agencies.models import Agency
from exchange.columns import UTCDateTime
from exchange.extensions import db

USER_ROLES = ("liaison", "approver", "auditor", "admin")


class User(db.Model):  # type: ignore[name-defined]
    """A liaison officer, approver, auditor or administrator of one agency."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    agency_id: Mapped[str] = mapped_column(ForeignKey("agency.id"))
    # Space-separated, from USER_ROLES.
    roles: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    totp_secret: Mapped[str | None] = mapped_column(Text, default=None)
    totp_enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, default=None)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    oidc_issuer: Mapped[str | None] = mapped_column(String(300), default=None)
    oidc_subject: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    agency: Mapped[Agency] = relationship()

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(self.roles.split())


class WebSession(db.Model):  # type: ignore[name-defined]
    __tablename__ = "web_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    address: Mapped[str | None] = mapped_column(String(64), default=None)


class LoginThrottle(db.Model):  # type: ignore[name-defined]
    """Failed sign-ins per client address, in a sliding window."""

    __tablename__ = "login_throttle"

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    failures: Mapped[int] = mapped_column(Integer)
