"""People: accounts, passwords (argon2), TOTP second factors and sign-in throttling.

Sessions are in :mod:`exchange.auth.sessions`. Like every service, these functions may
flush but never commit; the request's audit entry is written first.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select

from exchange.agencies.service import agency_lineage, get_agency
from exchange.auth.actor import Actor
from exchange.auth.models import USER_ROLES, LoginThrottle, User
from exchange.clock import as_utc, utcnow
from exchange.errors import Kind, Refusal
from exchange.extensions import db
from exchange.pki.vault import load_vault

USERNAME = re.compile(r"^[a-z][a-z0-9._-]{2,63}$")
MIN_PASSWORD_LENGTH = 12

# An account locks after this many failures in a row, for LOCKOUT; an address that fails
# ADDRESS_LIMIT times within ADDRESS_WINDOW is refused until the window has passed.
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
ADDRESS_LIMIT = 20
ADDRESS_WINDOW = timedelta(minutes=15)

TOTP_ISSUER = "Inter-agency exchange"
# RFC 6238 §5.2: one step either side absorbs clock drift between phone and server.
TOTP_WINDOW = 1

_hasher = PasswordHasher()
# Verified against when the username is unknown, so that the answer takes as long.
_DUMMY_HASH = _hasher.hash(os.urandom(16).hex())


class SignInRefused(Exception):
    """A sign-in step failed; ``reason`` is a stable code for the audit entry."""

    def __init__(self, reason: str, *, user: User | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.user = user


def user_actor(user: User, *, address: str | None) -> Actor:
    agency = user.agency
    return Actor(
        kind="user",
        agency_id=user.agency_id,
        agency_kind=agency.kind,
        user=user.username,
        address=address,
        roles=user.role_set,
        agency_lineage=(
            agency_lineage(user.agency_id) if agency.parent_id is not None else (user.agency_id,)
        ),
    )


def _invalid(title: str, detail: str, field: str) -> Refusal:
    return Refusal(
        Kind.INVALID, "user_invalid", title, detail, errors=[{"field": field, "detail": detail}]
    )


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise _invalid(
            "Password too short",
            f"A password has at least {MIN_PASSWORD_LENGTH} characters.",
            "password",
        )


def hash_password(password: str) -> str:
    check_password_strength(password)
    return _hasher.hash(password)


def _check_roles(roles: tuple[str, ...]) -> str:
    unknown = sorted(set(roles) - set(USER_ROLES))
    if unknown:
        raise _invalid("Unknown role", ", ".join(unknown), "roles")
    if not roles:
        raise _invalid("No role", "A user has at least one role.", "roles")
    return " ".join(r for r in USER_ROLES if r in roles)


def get_user(username: str) -> User:
    user: User | None = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise Refusal(Kind.NOT_FOUND, "user_not_found", "No such user", f"No user {username!r}.")
    return user


def list_users(agency_id: str | None = None) -> list[User]:
    query = select(User).order_by(User.agency_id, User.username)
    if agency_id is not None:
        query = query.where(User.agency_id == agency_id)
    return list(db.session.scalars(query))


def create_user(
    *,
    actor: Actor,
    username: str,
    display_name: str,
    agency_id: str,
    roles: tuple[str, ...],
    password: str | None,
) -> User:
    if not USERNAME.match(username):
        raise _invalid(
            "Invalid username", "3-64 of a-z, 0-9, '.', '_' and '-', from a letter.", "username"
        )
    display_name = display_name.strip()
    if not display_name or len(display_name) > 200:
        raise _invalid("Invalid name", "A name of 1-200 characters.", "display_name")
    get_agency(agency_id)
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Refusal(Kind.CONFLICT, "user_exists", "User exists", f"{username!r} already exists.")
    user = User(
        username=username,
        display_name=display_name,
        agency_id=agency_id,
        roles=_check_roles(roles),
        password_hash=hash_password(password) if password is not None else None,
        failed_logins=0,
        created_at=utcnow(),
    )
    db.session.add(user)
    db.session.flush()  # assigns user.id, which seals the TOTP secret
    return user


def set_roles(*, actor: Actor, user: User, roles: tuple[str, ...]) -> None:
    if user.username == actor.user and "admin" in user.role_set and "admin" not in roles:
        # An administrator cannot lock the last door behind themselves.
        raise _invalid("Own admin role", "You cannot remove your own admin role.", "roles")
    user.roles = _check_roles(roles)


def set_disabled(*, actor: Actor, user: User, disabled: bool) -> None:
    from exchange.auth.sessions import end_user_sessions

    if user.username == actor.user:
        raise _invalid("Own account", "You cannot disable your own account.", "disabled")
    user.disabled_at = utcnow() if disabled else None
    if disabled:
        end_user_sessions(user)


# -- TOTP (RFC 6238) ---------------------------------------------------------------------


def _seal(user: User, secret: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(load_vault().totp_key).encrypt(
        nonce, secret.encode(), f"totp:{user.id}".encode()
    )
    return "v1:" + base64.b64encode(nonce + sealed).decode()


def _unseal(user: User) -> str | None:
    if not user.totp_secret:
        return None
    blob = base64.b64decode(user.totp_secret.removeprefix("v1:"))
    plain = AESGCM(load_vault().totp_key).decrypt(blob[:12], blob[12:], f"totp:{user.id}".encode())
    return plain.decode()


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str


def begin_enrolment(user: User) -> Enrolment:
    """A new secret for the user's authenticator app; it counts once a code confirms it."""
    secret = pyotp.random_base32()
    user.totp_secret = _seal(user, secret)
    user.totp_enrolled_at = None
    user.totp_last_step = None
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=TOTP_ISSUER)
    return Enrolment(secret=secret, uri=uri)


def pending_enrolment(user: User) -> Enrolment | None:
    secret = _unseal(user) if user.totp_enrolled_at is None else None
    if secret is None:
        return None
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=TOTP_ISSUER)
    return Enrolment(secret=secret, uri=uri)


def _accepted_step(secret: str, code: str, *, after: int | None, now: datetime) -> int | None:
    code = code.strip().replace(" ", "")
    if not re.fullmatch(r"\d{6}", code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1):
        if after is not None and step <= after:
            # RFC 6238 §5.2: a code once accepted is not accepted again.
            continue
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


def confirm_enrolment(user: User, code: str) -> bool:
    secret = _unseal(user)
    if secret is None:
        return False
    step = _accepted_step(secret, code, after=None, now=utcnow())
    if step is None:
        return False
    user.totp_enrolled_at = utcnow()
    user.totp_last_step = step
    return True


def verify_second_factor(user: User, code: str) -> bool:
    secret = _unseal(user) if user.totp_enrolled_at is not None else None
    if secret is None:
        return False
    step = _accepted_step(secret, code, after=user.totp_last_step, now=utcnow())
    if step is None:
        return False
    user.totp_last_step = step
    return True


def reset_second_factor(*, actor: Actor, user: User) -> None:
    """The user enrols a new authenticator at their next sign-in; their sessions end."""
    from exchange.auth.sessions import end_user_sessions

    user.totp_secret = None
    user.totp_enrolled_at = None
    user.totp_last_step = None
    end_user_sessions(user)


# -- Sign-in -----------------------------------------------------------------------------


def _throttle(address: str, now: datetime) -> LoginThrottle | None:
    row: LoginThrottle | None = db.session.get(LoginThrottle, address)
    if row is not None and as_utc(row.window_start) + ADDRESS_WINDOW <= now:
        row.window_start, row.failures = now, 0
    return row


def check_address(address: str) -> None:
    """Refuse an address that failed too often lately, before any password is checked."""
    row = _throttle(address, utcnow())
    if row is not None and row.failures >= ADDRESS_LIMIT:
        raise SignInRefused("address_throttled")


def record_failure(*, address: str, user: User | None) -> None:
    now = utcnow()
    row = _throttle(address, now)
    if row is None:
        db.session.add(LoginThrottle(address=address, window_start=now, failures=1))
    else:
        row.failures += 1
    if user is not None:
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILURES:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0


def _check_usable(user: User, now: datetime) -> None:
    if user.disabled_at is not None:
        raise SignInRefused("account_disabled", user=user)
    if user.locked_until is not None and as_utc(user.locked_until) > now:
        raise SignInRefused("account_locked", user=user)


def check_password(*, username: str, password: str, address: str) -> User:
    """The first factor. Refusals name a reason for the audit log, never for the page."""
    check_address(address)
    user: User | None = db.session.scalar(select(User).where(User.username == username))
    if user is None or user.password_hash is None:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        record_failure(address=address, user=None)
        raise SignInRefused("credentials_invalid")
    now = utcnow()
    _check_usable(user, now)
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        record_failure(address=address, user=user)
        raise SignInRefused("credentials_invalid", user=user) from None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def check_second_factor(*, user: User, code: str, address: str) -> None:
    check_address(address)
    _check_usable(user, utcnow())
    if not verify_second_factor(user, code):
        record_failure(address=address, user=user)
        raise SignInRefused("second_factor_invalid", user=user)
    user.failed_logins = 0
    user.locked_until = None


def link_oidc(*, actor: Actor, user: User, issuer: str, subject: str) -> None:
    """Map an identity at an agency's provider to the user; one identity, one user."""
    if not issuer.startswith("https://") or not subject or len(subject) > 255:
        raise _invalid("Invalid identity", "An https issuer and a subject.", "issuer")
    holder = find_oidc_user(issuer=issuer, subject=subject)
    if holder is not None and holder.id != user.id:
        raise Refusal(
            Kind.CONFLICT,
            "identity_linked",
            "Identity in use",
            f"It is linked to {holder.username!r}.",
        )
    user.oidc_issuer, user.oidc_subject = issuer, subject


def find_oidc_user(*, issuer: str, subject: str) -> User | None:
    user: User | None = db.session.scalar(
        select(User).where(User.oidc_issuer == issuer, User.oidc_subject == subject)
    )
    return user
