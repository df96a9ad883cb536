"""Audit entries: their RFC 8785 bytes, and adding them to the work they record."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from exchange.auth.actor import Actor
from exchange.clock import rfc3339
from exchange.extensions import db
from exchange.trail.models import AuditEntry
from keys.jcs import canonicalize

ENTRY_FORMAT = "exchange-audit/1"
# Positions, sizes and cursors that requests name go into audit entries, whose RFC 8785
# form has integers only up to 2^53 - 1 (§3.2.2.3): a parameter beyond is refused.
MAX_POSITION = 2**53 - 1


def outcome_for(status: int) -> str:
    if status < 400:
        return "ok"
    if status in (401, 403):
        return "denied"
    if status < 500:
        return "invalid"
    return "error"


def protect_term(term: str, *, key: bytes) -> str:
    """Search terms and card tokens are kept as keyed hashes, never in clear (DESIGN §7)."""
    return "hmac-sha256:" + hmac.new(key, term.encode("utf-8"), hashlib.sha256).hexdigest()


def entry_document(
    *,
    entry_id: str,
    recorded_at: datetime,
    actor: Actor,
    action: str,
    status: int,
    targets: Iterable[tuple[str, int]],
    purpose: str | None,
    details: Mapping[str, Any],
    method: str | None,
    path: str | None,
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "format": ENTRY_FORMAT,
        "id": entry_id,
        "time": rfc3339(recorded_at),
        "actor": actor.describe(),
        "action": action,
        "outcome": outcome_for(status),
        "status": status,
        "targets": [{"id": record_id, "version": version} for record_id, version in targets],
    }
    if purpose is not None:
        document["purpose"] = purpose
    if method is not None:
        document["request"] = {"method": method, "path": path}
    if details:
        document["details"] = dict(details)
    return document


def entry_bytes(
    *,
    entry_id: str,
    recorded_at: datetime,
    actor: Actor,
    action: str,
    status: int,
    targets: Iterable[tuple[str, int]] = (),
    purpose: str | None = None,
    details: Mapping[str, Any] | None = None,
    method: str | None = None,
    path: str | None = None,
) -> bytes:
    """The RFC 8785 bytes of an entry: what the log stores and the Merkle tree hashes."""
    return canonicalize(
        entry_document(
            entry_id=entry_id,
            recorded_at=recorded_at,
            actor=actor,
            action=action,
            status=status,
            targets=list(dict.fromkeys(targets)),
            purpose=purpose,
            details=details or {},
            method=method,
            path=path,
        )
    )


def append_entry(
    *,
    entry_id: str,
    recorded_at: datetime,
    actor: Actor,
    action: str,
    status: int,
    targets: Iterable[tuple[str, int]] = (),
    purpose: str | None = None,
    details: Mapping[str, Any] | None = None,
    method: str | None = None,
    path: str | None = None,
) -> None:
    """Add one entry to the session's transaction; it is written with the work it records."""
    canonical = entry_bytes(
        entry_id=entry_id,
        recorded_at=recorded_at,
        actor=actor,
        action=action,
        status=status,
        targets=targets,
        purpose=purpose,
        details=details,
        method=method,
        path=path,
    )
    db.session.add(AuditEntry(id=entry_id, canonical=canonical))


def insert_entry(connection: Connection, *, entry_id: str, canonical: bytes) -> None:
    """Insert one entry in ``connection``'s transaction, for work done outside a request."""
    connection.execute(insert(AuditEntry), {"id": entry_id, "canonical": canonical})
