"""Checking a record's signature against the publisher's key valid at ``issued_at``."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from exchange.errors import Kind, Refusal
from exchange.pki.models import SigningKey
from keys import errors as key_errors
from keys.jwk import PublicSigningKey, load_public_jwk
from keys.jws import read_header, verify_detached
from schemas import RECORD_SIGNATURE_TYPE

# Loaded public keys by kid. A kid is the RFC 7638 thumbprint of the key itself, so an
# entry can never stand for a different key; status is read from the database each time.
_public_keys: dict[str, PublicSigningKey] = {}
_public_keys_lock = threading.Lock()


@dataclass(frozen=True)
class VerifiedSignature:
    kid: str


_signing_key = SigningKey.__table__


def public_key(key: Any) -> PublicSigningKey:
    """A signing key row's public key, parsed once per kid."""
    loaded = _public_keys.get(key.kid)
    if loaded is None:
        loaded = load_public_jwk(json.loads(key.jwk))
        with _public_keys_lock:
            _public_keys[key.kid] = loaded
    return loaded


_OUTSIDE_WINDOW = {
    "key_not_valid": ("Key not yet valid", "issued_at precedes the key's validity."),
    "key_expired": ("Signing key expired", "issued_at follows the key's validity."),
    "key_retired": ("Signing key retired", "issued_at follows the key's retirement."),
}


def key_window(key: Any, issued_at: datetime) -> str | None:
    """Why the key could not sign at ``issued_at`` (a stable code), or None if it could:
    a key signs within its validity and until it is retired."""
    if issued_at < key.not_before:
        return "key_not_valid"
    if key.not_after is not None and issued_at >= key.not_after:
        return "key_expired"
    if key.retired_at is not None and issued_at >= key.retired_at:
        return "key_retired"
    return None


def _refuse(code: str, title: str, detail: str) -> Refusal:
    return Refusal(
        Kind.INVALID, code, title, detail, errors=[{"pointer": "/signature", "detail": detail}]
    )


class KeyCache:
    """Key rows read once per request: a batch is usually signed by one key."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._rows: dict[str, Any] = {}

    def prefetch(self, signatures: Iterable[Any]) -> None:
        """Read in one query the keys that ``signatures`` name."""
        kids = set()
        for signature in signatures:
            try:
                kid = read_header(signature).kid if isinstance(signature, str) else None
            except key_errors.Error:
                continue
            if kid is not None and kid not in self._rows:
                kids.add(kid)
        if not kids:
            return
        rows = self._connection.execute(select(_signing_key).where(_signing_key.c.kid.in_(kids)))
        self._rows.update({row.kid: row for row in rows})
        self._rows.update({kid: None for kid in kids - self._rows.keys()})

    def get(self, kid: str) -> Any:
        if kid not in self._rows:
            self._rows[kid] = self._connection.execute(
                select(_signing_key).where(_signing_key.c.kid == kid)
            ).first()
        return self._rows[kid]


def verify_record_signature(
    *,
    signature: str,
    canonical: bytes,
    publisher: str,
    issued_at: datetime,
    keys: KeyCache,
    typ: str = RECORD_SIGNATURE_TYPE,
) -> VerifiedSignature:
    """Verify a detached JWS of ``typ`` by ``publisher``'s key valid at ``issued_at``: a
    record's, or another signed document's of the same scheme (a notice, its steps)."""
    try:
        header = read_header(signature)
    except key_errors.Error as error:
        raise _refuse(error.code, "Signature malformed", str(error)) from None
    key = keys.get(header.kid)
    if key is None or key.agency_id != publisher:
        raise _refuse(
            "key_unknown", "Unknown signing key", f"No key {header.kid!r} of {publisher!r}."
        )
    if key.status == "revoked":
        raise _refuse("key_revoked", "Signing key revoked", f"Key {key.kid} was revoked.")
    outside = key_window(key, issued_at)
    if outside is not None:
        raise _refuse(outside, *_OUTSIDE_WINDOW[outside])
    try:
        verify_detached(signature, canonical, key=public_key(key), typ=typ)
    except key_errors.Error as error:
        raise _refuse(
            error.code, "Signature invalid", "The signature does not match the record."
        ) from None
    return VerifiedSignature(kid=key.kid)


def compromise_flag(key: Any, *, issued_at: datetime, received_at: datetime) -> bool:
    """True when the version may have been signed by whoever compromised the key.

    ``issued_at`` is the signer's own claim, so a version that reached the exchange after
    the compromise is flagged too, however early it says it was signed.
    """
    if key.status != "revoked" or key.compromised_at is None:
        return False
    compromised_at: datetime = key.compromised_at
    return issued_at >= compromised_at or received_at >= compromised_at
