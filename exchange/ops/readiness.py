"""Readiness: the database answers, its schema is at the migrations' head, the audit log
keeps up (entries get leaves, checkpoints are signed) within the configured limits, and
an integrator running here does not refuse its stored state."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy.engine import Connection

from exchange.ops.gauges import log_progress
from exchange.trail.integrator_process import integrator_status


@dataclass
class Readiness:
    """Each check by name: its outcome and the figures it was judged on."""

    checks: dict[str, dict[str, Any]] = field(default_factory=dict)

    def record(self, name: str, ok: bool, **figures: Any) -> None:
        self.checks[name] = {"ok": ok, **figures}

    @property
    def failed(self) -> list[str]:
        return [name for name, check in self.checks.items() if not check["ok"]]

    @property
    def ready(self) -> bool:
        return not self.failed

    def document(self) -> dict[str, Any]:
        return {"ready": self.ready, "failed": self.failed, "checks": self.checks}


@functools.cache
def script_heads(directory: str) -> tuple[str, ...]:
    """The migrations' head revisions, read once per process from the scripts."""
    config = Config()
    config.set_main_option("script_location", directory)
    return tuple(sorted(ScriptDirectory.from_config(config).get_heads()))


def check_readiness(app: Flask, connection: Connection, now: datetime) -> Readiness:
    """Every check that reads the database, in ``connection``'s (read-only) transaction."""
    readiness = Readiness()
    readiness.record("database", True)
    head = script_heads(str(app.extensions["migrate"].directory))
    current = tuple(sorted(MigrationContext.configure(connection).get_current_heads()))
    readiness.record("migrations", current == head, current=list(current), head=list(head))
    progress = log_progress(connection, now)
    lag_limit = int(app.config["EXCHANGE_READY_MAX_INTEGRATOR_LAG"])
    readiness.record(
        "integrator_lag", progress.waiting <= lag_limit, waiting=progress.waiting, limit=lag_limit
    )
    age_limit = float(app.config["EXCHANGE_READY_MAX_CHECKPOINT_AGE"])
    age = progress.checkpoint_age
    # An idle log signs nothing new: the newest checkpoint is late only while it leaves
    # entries or leaves uncovered.
    late = progress.checkpoint_behind and (age is None or age > age_limit)
    readiness.record(
        "checkpoint_age",
        not late,
        age_seconds=None if age is None else round(age, 3),
        limit=age_limit,
        uncovered=progress.checkpoint_behind,
    )
    # Where the integrator runs in this process: not ready while it refuses to sign a
    # state that does not reproduce the newest signed checkpoint.
    status = integrator_status(app)
    if status is not None:
        readiness.record(
            "integrator", not status.refusing, state=status.state, detail=status.detail
        )
    return readiness
