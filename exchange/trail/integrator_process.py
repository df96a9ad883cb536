"""Running the integrator: in-process beside the server, or alone as ``exchange integrator``.

Exactly one integrator is active at a time. On PostgreSQL it holds a session advisory
lock on a connection of its own, which also LISTENs for the entries' notifications; on
SQLite it holds an exclusive lock on a file beside the database. Either lock dies with its
process, so a standby takes over after a crash. :func:`integrator_status` tells a health
check what the integrator running in this process is doing.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import IO, Any

import psycopg
from flask import Flask
from sqlalchemy.engine import Engine

from exchange.database import libpq_url, try_file_lock
from exchange.extensions import db
from exchange.pki.vault import load_vault
from exchange.trail.integrator import Integrator, IntegratorStatus
from exchange.trail.signed_state import SignedStateMismatch

log = logging.getLogger(__name__)

# pg_advisory_lock keys: this class, and the schema (one integrator per exchange database).
ADVISORY_CLASS = 0x65786368
POLL_SECONDS = 0.1
# Entries arriving together are integrated together: after a wake-up the integrator lets
# this much time pass since its last run, so requests are not slowed by one run each.
GATHER_SECONDS = 0.05
LOCK_RETRY_SECONDS = 2.0
# A refusing integrator checks its state again this often, logging each refusal: an
# operator who repairs the tree sees it resume without a restart.
REFUSAL_RETRY_SECONDS = 30.0
_STATUS_KEY = "exchange.integrator"

_wakeup = threading.Event()


def wake_integrator() -> None:
    """Tell an integrator running in this process that entries were committed."""
    _wakeup.set()


def log_origin(app: Flask) -> str:
    return str(app.config.get("EXCHANGE_LOG_ORIGIN") or f"{app.config['EXCHANGE_NAME']}/audit")


def build_integrator(app: Flask) -> Integrator:
    config = app.config
    origin = log_origin(app)
    return Integrator(
        engine=db.engine,
        signer=load_vault(app).log_signer(origin),
        origin=origin,
        batch_size=int(config["EXCHANGE_INTEGRATOR_BATCH"]),
        checkpoint_interval=float(config["EXCHANGE_CHECKPOINT_INTERVAL"]),
        hole_seconds=float(config["EXCHANGE_SEQUENCER_HOLE_SECONDS"]),
    )


class IntegratorLock:
    """The single-integrator lock, with the wait for new entries that goes with it."""

    def __init__(self, engine: Engine, *, lock_path: Path) -> None:
        self._engine = engine
        self._lock_path = lock_path
        self._postgres: psycopg.Connection[Any] | None = None
        self._file: IO[bytes] | None = None

    @property
    def held(self) -> bool:
        return self._postgres is not None or self._file is not None

    def acquire(self) -> bool:
        if self.held:
            return True
        if self._engine.dialect.name == "postgresql":
            connection = psycopg.connect(libpq_url(self._engine), autocommit=True)
            locked = connection.execute(
                "SELECT pg_try_advisory_lock(%s, hashtext(current_schema()))", (ADVISORY_CLASS,)
            )
            row = locked.fetchone()
            if not row or not row[0]:
                connection.close()
                return False
            connection.execute("LISTEN exchange_audit")
            self._postgres = connection
            return True
        self._file = try_file_lock(self._lock_path)
        return self._file is not None

    def wait(self, timeout: float) -> None:
        """Return when entries may have arrived, or after ``timeout`` seconds."""
        if self._postgres is not None:
            for _ in self._postgres.notifies(timeout=timeout, stop_after=1):
                pass
            return
        _wakeup.wait(timeout)
        _wakeup.clear()

    def release(self) -> None:
        if self._postgres is not None:
            self._postgres.close()
            self._postgres = None
        if self._file is not None:
            self._file.close()
            self._file = None


def lock_path(app: Flask) -> Path:
    return Path(app.instance_path) / "integrator.lock"


def integrator_status(app: Flask) -> IntegratorStatus | None:
    """The status of the integrator running in this process for ``app``, if one runs.

    A readiness check answers "not ready" while ``status.refusing``: the log then takes
    entries but neither sequences nor signs them.
    """
    integrator = app.extensions.get(_STATUS_KEY)
    return integrator.status if isinstance(integrator, Integrator) else None


def run_integrator(
    app: Flask, *, stop: threading.Event, exit_on_refusal: bool = False
) -> IntegratorStatus:
    """Integrate until ``stop`` is set; stand by while another integrator holds the lock.

    An integrator whose stored state does not reproduce the newest signed checkpoint
    refuses: it returns at once with ``exit_on_refusal``, else it checks again every
    :data:`REFUSAL_RETRY_SECONDS`. Returns the last status.
    """
    with app.app_context():
        lock = IntegratorLock(db.engine, lock_path=lock_path(app))
        integrator = build_integrator(app)
        app.extensions[_STATUS_KEY] = integrator
        try:
            while not stop.is_set():
                try:
                    if not lock.acquire():
                        integrator.set_status("standby")
                        stop.wait(LOCK_RETRY_SECONDS)
                        continue
                    integrator.integrate()
                    ran = time.monotonic()
                    delay = integrator.pending_checkpoint_delay()
                    lock.wait(POLL_SECONDS if delay is None else min(POLL_SECONDS, delay))
                    stop.wait(max(0.0, ran + GATHER_SECONDS - time.monotonic()))
                except SignedStateMismatch:
                    # Logged at ERROR by the integrator; a standby would refuse alike.
                    lock.release()
                    if exit_on_refusal:
                        return integrator.status
                    stop.wait(REFUSAL_RETRY_SECONDS)
                except Exception:
                    log.exception("integration failed; retrying")
                    lock.release()
                    stop.wait(LOCK_RETRY_SECONDS)
            # A last checkpoint on the way out, by the active integrator only: a standby
            # that integrated now would race the one that holds the lock.
            if lock.held:
                integrator.integrate(checkpoint=True)
            integrator.set_status("stopped")
            return integrator.status
        except SignedStateMismatch:
            return integrator.status
        finally:
            lock.release()


class IntegratorThread:
    """The in-process integrator of the embedded default."""

    def __init__(self, app: Flask) -> None:
        self._app = app
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=run_integrator,
            args=(app,),
            kwargs={"stop": self._stop},
            name="exchange-integrator",
            daemon=True,
        )

    def start(self) -> None:
        self._thread.start()

    @property
    def status(self) -> IntegratorStatus | None:
        return integrator_status(self._app)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        _wakeup.set()
        self._thread.join(timeout)
