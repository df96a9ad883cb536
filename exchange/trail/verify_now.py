"""An auditor's "verify now": the full verification of ``exchange audit verify``, on request.

A log of up to ``EXCHANGE_AUDIT_VERIFY_INLINE_MAX`` leaves is verified while the auditor
waits, and the result goes into the request's own audit entry. A larger one is verified
in a background thread of this process (one at a time), which writes its own
``audit.verify`` entry with the result when it ends; the log page shows the latest ones.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy.engine import Connection

from exchange.auth.actor import Actor
from exchange.clock import utcnow, uuid7
from exchange.database import READ_ONLY
from exchange.extensions import db
from exchange.trail.entries import append_entry
from exchange.trail.full_verification import verify_log
from exchange.trail.integrator_process import wake_integrator
from exchange.trail.log_status import VERIFY_ACTION, log_verifier

log = logging.getLogger(__name__)

INLINE_MAX = 100_000


@dataclass(frozen=True)
class Verification:
    ok: bool
    leaves: int
    checkpoints: int
    latest_checkpoint: int
    milliseconds: int
    finished_at: datetime
    finding: dict[str, Any] | None = None

    def details(self) -> dict[str, Any]:
        """The result as the ``audit.verify`` entry records it."""
        details: dict[str, Any] = {
            "ok": self.ok,
            "leaves": self.leaves,
            "checkpoints": self.checkpoints,
            "latest_checkpoint": self.latest_checkpoint,
            "milliseconds": self.milliseconds,
        }
        if self.finding is not None:
            details["finding"] = self.finding
        return details


def run_verification(connection: Connection, app: Flask, *, workers: int = 1) -> Verification:
    started = time.monotonic()
    report = verify_log(connection, verifier=log_verifier(app), workers=workers)
    finding: dict[str, Any] | None = None
    if report.findings:
        first = report.findings[0]
        finding = {"kind": first.kind, "detail": first.detail}
        if first.index is not None:
            finding["index"] = first.index
        if first.seq is not None:
            finding["seq"] = first.seq
    return Verification(
        ok=report.ok,
        leaves=report.leaves,
        checkpoints=report.checkpoints,
        latest_checkpoint=report.latest_checkpoint,
        milliseconds=round((time.monotonic() - started) * 1000),
        finished_at=utcnow(),
        finding=finding,
    )


class BackgroundVerification:
    """The one background verification this process may run at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started_at: datetime | None = None

    @property
    def started_at(self) -> datetime | None:
        return self._started_at

    def start(self, app: Flask, *, actor: Actor) -> bool:
        """Start one unless one is running; False if one already is."""
        with self._lock:
            if self._started_at is not None:
                return False
            self._started_at = utcnow()
        thread = threading.Thread(
            target=self._run, args=(app, actor), name="exchange-audit-verify", daemon=True
        )
        thread.start()
        return True

    def _run(self, app: Flask, actor: Actor) -> None:
        try:
            with app.app_context():
                try:
                    # A long read: on SQLite it must not hold the write lock meanwhile.
                    connection = db.session.connection(execution_options={READ_ONLY: True})
                    result = run_verification(connection, app, workers=os.cpu_count() or 1)
                    db.session.rollback()
                    details = {"mode": "background", **result.details()}
                    append_entry(
                        entry_id=uuid7(),
                        recorded_at=utcnow(),
                        actor=actor,
                        action=VERIFY_ACTION,
                        status=200,
                        details=details,
                    )
                    db.session.commit()
                    wake_integrator()
                except Exception:
                    log.exception("background verification of the audit log failed")
                    db.session.rollback()
                finally:
                    db.session.remove()
        finally:
            with self._lock:
                self._started_at = None


background = BackgroundVerification()
