"""The exchange's receipt keys over time: the one that signs now, the next, the retired.

``receipt-keys.json`` in the keys folder lists every key with the moment it was published
and the moment it signs from; a key is retired when its successor starts signing. A vault
without the file has one key, ``exchange.key.pem``, signing since the vault was made.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from exchange.clock import parse_rfc3339, rfc3339
from keys.jwk import PrivateSigningKey, public_jwk, thumbprint
from keys.storage import decrypt_private_key

RING_FILE = "receipt-keys.json"
FIRST_KEY_FILE = "exchange.key.pem"
# The first key of a vault made before keys were scheduled: it has always signed.
BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ReceiptKey:
    kid: str
    jwk: dict[str, str]
    # None once retired: its private half is destroyed, its public half stays published.
    private: PrivateSigningKey | None
    file: str | None
    published_at: datetime
    signs_from: datetime


@dataclass(frozen=True)
class ReceiptKeyRing:
    """Keys in the order they sign; each one's successor retires it."""

    keys: tuple[ReceiptKey, ...]

    def signing_key(self, now: datetime) -> ReceiptKey:
        usable = [k for k in self.keys if k.signs_from <= now and k.private is not None]
        return usable[-1] if usable else next(k for k in self.keys if k.private is not None)

    def retired_at(self, key: ReceiptKey) -> datetime | None:
        later = [k.signs_from for k in self.keys if k.signs_from > key.signs_from]
        return min(later) if later else None

    def status(self, key: ReceiptKey, now: datetime) -> str:
        """``next`` (published, not signing yet), ``active`` or ``retired``."""
        if key.signs_from > now:
            return "next"
        retired = self.retired_at(key)
        return "retired" if retired is not None and retired <= now else "active"

    def pending(self, now: datetime) -> ReceiptKey | None:
        return next((k for k in self.keys if k.signs_from > now), None)

    def jwks(self, now: datetime) -> dict[str, Any]:
        """Every key ever used, newest first; the members beyond RFC 7517 say when each signs."""
        members = []
        for key in reversed(self.keys):
            jwk: dict[str, Any] = dict(key.jwk)
            jwk.update({"kid": key.kid, "use": "sig", "alg": "Ed25519"})
            jwk["status"] = self.status(key, now)
            if key.signs_from > BEGINNING:
                jwk["not_before"] = rfc3339(key.signs_from)
            retired = self.retired_at(key)
            if retired is not None:
                jwk["retired_at"] = rfc3339(retired)
            members.append(jwk)
        return {"keys": members}


def _entry(key: ReceiptKey) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "jwk": key.jwk,
        "file": key.file,
        "published_at": rfc3339(key.published_at),
        "signs_from": rfc3339(key.signs_from),
    }


def ring_document(ring: ReceiptKeyRing) -> str:
    return json.dumps({"keys": [_entry(k) for k in ring.keys]}, indent=2) + "\n"


def receipt_key_statuses(directory: Path, now: datetime) -> dict[str, int]:
    """How many keys are next, active and retired, read without the passphrase."""
    if not (directory / RING_FILE).exists():
        return {"active": 1} if (directory / FIRST_KEY_FILE).exists() else {}
    ring = _read_ring(directory, passphrase=None)
    counts: dict[str, int] = {}
    for key in ring.keys:
        status = ring.status(key, now)
        counts[status] = counts.get(status, 0) + 1
    return counts


def load_ring(directory: Path, passphrase: bytes) -> ReceiptKeyRing:
    if not (directory / RING_FILE).exists():
        only = decrypt_private_key((directory / FIRST_KEY_FILE).read_bytes(), passphrase=passphrase)
        jwk = public_jwk(only)
        first = ReceiptKey(thumbprint(jwk), jwk, only, FIRST_KEY_FILE, BEGINNING, BEGINNING)
        return ReceiptKeyRing((first,))
    return _read_ring(directory, passphrase=passphrase)


def _read_ring(directory: Path, *, passphrase: bytes | None) -> ReceiptKeyRing:
    """The listed keys; their private halves only with the passphrase."""
    keys = []
    for entry in json.loads((directory / RING_FILE).read_text())["keys"]:
        file = entry.get("file")
        private: PrivateSigningKey | None = None
        if file and passphrase is not None:
            private = decrypt_private_key((directory / file).read_bytes(), passphrase=passphrase)
        keys.append(
            ReceiptKey(
                kid=str(entry["kid"]),
                jwk={str(k): str(v) for k, v in entry["jwk"].items()},
                private=private,
                file=file,
                published_at=parse_rfc3339(entry["published_at"]),
                signs_from=parse_rfc3339(entry["signs_from"]),
            )
        )
    return ReceiptKeyRing(tuple(sorted(keys, key=lambda k: k.signs_from)))
