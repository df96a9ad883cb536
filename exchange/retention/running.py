"""The scheduled disposal: a thread of ``exchange serve``, or ``exchange retention run``.

Each run disposes of at most a batch of records in one transaction, with one audit entry
whose targets are the versions it disposed of.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from flask import Flask

from exchange.auth.actor import Actor
from exchange.clock import utcnow, uuid7
from exchange.extensions import db
from exchange.retention.disposal import Disposal, dispose_due
from exchange.trail.entries import append_entry
from exchange.trail.integrator_process import wake_integrator

log = logging.getLogger(__name__)

RETENTION_ACTOR = Actor(kind="exchange", system_name="retention")
DISPOSE_ACTION = "retention.dispose"


def dispose_batch(*, entry_id: str, now: datetime, limit: int) -> Disposal:
    """One run's disposal, in the session's transaction; the caller writes its entry."""
    return dispose_due(today=now.date(), now=now, entry_id=entry_id, limit=limit)


def scheduled_run(app: Flask, *, clock: Callable[[], datetime] = utcnow) -> int:
    """Dispose of everything due, a batch per run; the records disposed of."""
    disposed = 0
    limit = int(app.config["EXCHANGE_RETENTION_BATCH"])
    with app.app_context():
        while True:
            entry_id, now = uuid7(), clock()
            try:
                result = dispose_batch(entry_id=entry_id, now=now, limit=limit)
                if not result.versions:
                    db.session.rollback()
                    return disposed
                append_entry(
                    entry_id=entry_id,
                    recorded_at=now,
                    actor=RETENTION_ACTOR,
                    action=DISPOSE_ACTION,
                    status=200,
                    targets=result.versions,
                    details={"records": result.records, "held": result.held},
                )
                db.session.commit()
            finally:
                db.session.remove()
            wake_integrator()
            disposed += result.records
            if result.records < limit:
                return disposed


class RetentionThread:
    """Runs the disposal every ``EXCHANGE_RETENTION_INTERVAL`` seconds, from startup."""

    def __init__(self, app: Flask) -> None:
        self._app = app
        self._interval = float(app.config["EXCHANGE_RETENTION_INTERVAL"])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                disposed = scheduled_run(self._app)
                if disposed:
                    log.info("retention: disposed of %d records", disposed)
            except Exception:
                log.exception("retention run failed; trying again at the next interval")
            self._stop.wait(self._interval)
