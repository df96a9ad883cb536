"""Appending to the audit log. Entries are written, flushed and committed with the work."""

from __future__ import annotations

import hashlib
import hmac
import select
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from psycopg import errors as pg_errors
from psycopg import pq
from sqlalchemy.engine import Connection

from exchange.auth.actor import Actor
from exchange.clock import rfc3339
from exchange.database import begin_immediate
from exchange.extensions import db
from keys.jcs import canonicalize

ENTRY_FORMAT = "exchange-audit/1"
# Positions, sizes and cursors that requests name go into audit entries, whose RFC 8785
# form has integers only up to 2^53 - 1 (§3.2.2.3): a parameter beyond is refused.
MAX_POSITION = 2**53 - 1

_INSERT_SQLITE = "INSERT INTO audit_entry (id, canonical) VALUES (?, ?)"
_INSERT_POSTGRES = "INSERT INTO audit_entry (id, canonical) VALUES (%s, %s)"
_INSERT_LIBPQ = b"INSERT INTO audit_entry (id, canonical) VALUES ($1, $2)"
_TEXT, _BINARY = 0, 1
_FORMATS = [_TEXT, _BINARY]


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
    canonical: bytes | None = None,
    commit: bool = False,
) -> None:
    """Insert one entry; with ``commit``, commit the request's transaction with it.

    ``canonical`` is the entry's bytes when they were fixed earlier in the request
    (:func:`entry_bytes` with these same arguments), as for a receipt that names its leaf.
    Committing here goes through the driver (on PostgreSQL the insert and the commit
    share one round trip); the caller flushes the session before and ends its
    transaction after, when nothing is left to send.
    """
    if canonical is None:
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
    insert_entry(db.session.connection(), entry_id=entry_id, canonical=canonical, commit=commit)


def insert_entry(
    connection: Connection, *, entry_id: str, canonical: bytes, commit: bool = False
) -> None:
    """The insert itself, in ``connection``'s transaction (see :func:`append_entry`)."""
    # Every request runs this insert, so it goes straight to the driver: SQLAlchemy's
    # execution machinery would cost more than the insert.
    driver: Any = connection.connection.driver_connection
    if connection.dialect.name == "sqlite":
        begin_immediate(driver)
        driver.execute(_INSERT_SQLITE, (entry_id, canonical))
        if commit:
            driver.commit()
    elif commit:
        _insert_and_commit_libpq(driver.pgconn, entry_id, canonical)
    else:
        driver.execute(_INSERT_POSTGRES, (entry_id, canonical))


def _insert_and_commit_libpq(pgconn: Any, entry_id: str, canonical: bytes) -> None:
    """The entry and the commit, through libpq itself, in one round trip.

    The last two statements of every request on PostgreSQL: psycopg's cursor and pipeline
    machinery would spend more of the exchange's CPU on them than it takes to build the
    entry. Inside a transaction the insert and the COMMIT go together in one libpq
    pipeline; if the insert fails, the server skips the COMMIT and the transaction is left
    for the caller to roll back. The bytes go as a binary parameter, the id as text;
    psycopg reads the transaction state from libpq, so the connection stays consistent
    for it.
    """
    parameters = [entry_id.encode("ascii"), canonical]
    if pgconn.transaction_status != pq.TransactionStatus.INTRANS:
        # Outside a transaction the insert commits itself.
        _raise_unless_done(pgconn.exec_params(_INSERT_LIBPQ, parameters, param_formats=_FORMATS))
        return
    pgconn.enter_pipeline_mode()
    try:
        pgconn.send_query_params(_INSERT_LIBPQ, parameters, param_formats=_FORMATS)
        pgconn.send_query_params(b"COMMIT", None)
        pgconn.pipeline_sync()
        while pgconn.flush():
            select.select((), (pgconn.socket,), ())
        results = []
        ended = False
        while True:
            result = pgconn.get_result()
            if result is None:
                # Each statement's results end with one None; two in a row mean that
                # nothing more will come (the connection is gone).
                if ended:
                    raise pg_errors.OperationalError("the connection ended mid-pipeline")
                ended = True
                continue
            ended = False
            if result.status == pq.ExecStatus.PIPELINE_SYNC:
                break
            results.append(result)
    finally:
        pgconn.exit_pipeline_mode()
    for result in results:
        _raise_unless_done(result)


def _raise_unless_done(result: Any) -> None:
    if result.status == pq.ExecStatus.PIPELINE_ABORTED:
        # Skipped because the statement before it failed, which is raised first.
        return
    if result.status != pq.ExecStatus.COMMAND_OK:
        raise pg_errors.error_from_result(result)
