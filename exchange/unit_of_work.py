"""One unit of work per request: its connection, its transaction, its one commit.

The request takes its connection when it begins and keeps one transaction to a single
commit, after its audit entry; a response of 400 or above first rolls back what the
request did. Services add and flush, and never commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, g

from exchange.extensions import db
from exchange.problems import Problem, problem_response
from exchange.trail import recorder
from exchange.trail.integrator_process import wake_integrator

log = logging.getLogger(__name__)

T = TypeVar("T")


def begin_request() -> None:
    # The first statement begins the transaction: on SQLite with the write lock taken
    # (exchange.database), so a request never fails half-way for want of it.
    db.session.connection()


def finish_request(response: Response) -> Response:
    audit = recorder.request_audit()
    if audit is None:
        return response
    status = response.status_code
    try:
        if status >= 400 and not audit.keep_work:
            db.session.rollback()
        recorder.add_entry(audit, status)
        db.session.commit()
    except Exception:
        # Fail closed: without its audit entry the request did not happen.
        log.exception("audit entry for request %s could not be written", g.request_id)
        db.session.rollback()
        recorder.forget()
        return problem_response(
            Problem(
                503,
                "audit_unavailable",
                "Audit log unavailable",
                "The request was not carried out.",
            )
        )
    wake_integrator()
    response.headers["Exchange-Request-Id"] = g.request_id
    return response


def wait_outside(wait: Callable[..., T], *arguments: Any) -> T:
    """Run ``wait(*arguments)`` without holding the connection; only before the request writes.

    For a long poll that found nothing yet: what it read is let go (its next read sees
    what committed meanwhile), and other requests use the connection while it waits.
    """
    session = db.session()
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("a unit of work that writes cannot wait outside its transaction")
    session.rollback()
    return wait(*arguments)


def init_app(app: Flask) -> None:
    app.before_request(recorder.begin_request)
    app.before_request(begin_request)
    app.after_request(finish_request)
