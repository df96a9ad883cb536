"""Console commands act as an operator, and are audited like API requests."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from exchange.auth.actor import Actor, operator_actor
from exchange.cli.errors import MISTAKES, CommandError, mistake_error, problem_message
from exchange.clock import utcnow, uuid7
from exchange.errors import Refusal
from exchange.extensions import db
from exchange.problems import Problem
from exchange.trail.entries import append_entry


@dataclass
class OperatorAction:
    actor: Actor
    entry_id: str
    targets: list[tuple[str, int]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


@contextmanager
def operator_action(action: str, **details: Any) -> Iterator[OperatorAction]:
    """Run the body as one transaction with its audit entry; a refusal is audited too."""
    current = OperatorAction(
        actor=operator_actor(getpass.getuser()), entry_id=uuid7(), details=dict(details)
    )
    started = utcnow()
    status = 200
    try:
        yield current
    except Refusal as problem:
        db.session.rollback()
        status = Problem.of(problem).status
        current.details["error"] = problem.code
        _write(current, action, started, status)
        raise CommandError(
            problem_message(title=problem.title, detail=problem.detail, errors=problem.errors)
        ) from None
    except MISTAKES as mistake:
        db.session.rollback()
        current.details["error"] = "input_unusable"
        _write(current, action, started, 400)
        raise mistake_error(mistake) from None
    except BaseException:
        db.session.rollback()
        raise
    _write(current, action, started, status)


def _write(current: OperatorAction, action: str, started: Any, status: int) -> None:
    append_entry(
        entry_id=current.entry_id,
        recorded_at=started,
        actor=current.actor,
        action=action,
        status=status,
        targets=current.targets,
        details=current.details,
    )
    db.session.commit()
