"""One audit entry per request, written in the request's own transaction.

The rule that keeps records and log in step: a response of 400 or above rolls back
whatever the request did before its entry is written, and a request whose entry cannot
be written fails. The commit below is the only one a request makes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request

from audit.merkle import leaf_hash
from exchange.auth.actor import Actor
from exchange.auth.mtls import client_fingerprint
from exchange.clock import utcnow, uuid7
from exchange.extensions import db
from exchange.problems import Problem, problem_response
from exchange.trail.entries import append_entry, entry_bytes
from exchange.trail.integrator_process import wake_integrator

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

UNROUTED = "request.unrouted"


@dataclass
class RequestAudit:
    action: str
    received_at: datetime
    targets: list[tuple[str, int]] = field(default_factory=list)
    purpose: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    # Keep the request's writes though it answers 400 or above: a refused sign-in still
    # counts against the account and the address.
    keep_work: bool = False
    # (status, targets, bytes) once a response has committed to its entry: see seal_entry.
    sealed: tuple[int, tuple[tuple[str, int], ...], bytes] | None = None


def audited(action: str) -> Callable[[F], F]:
    """Name the audit action of a view; every view carries one."""

    def decorate(view: F) -> F:
        view.audit_action = action  # type: ignore[attr-defined]
        return view

    return decorate


def _action_for_endpoint() -> str:
    if request.endpoint is None:
        return UNROUTED
    view = current_app.view_functions.get(request.endpoint)
    return getattr(view, "audit_action", f"request.{request.endpoint}")


def begin_request() -> None:
    g.request_id = uuid7()
    g.audit = RequestAudit(action=_action_for_endpoint(), received_at=utcnow())


def current_actor() -> Actor:
    actor = getattr(g, "actor", None)
    if actor is None:
        actor = Actor(kind="anonymous", address=request.remote_addr)
        fingerprint = client_fingerprint()
        if fingerprint is not None:
            actor = Actor(kind="anonymous", fingerprint=fingerprint, address=request.remote_addr)
    return actor


def _entry_arguments(audit: RequestAudit, status: int) -> dict[str, Any]:
    return {
        "entry_id": g.request_id,
        "recorded_at": audit.received_at,
        "actor": current_actor(),
        "action": audit.action,
        "status": status,
        "targets": audit.targets,
        "purpose": audit.purpose,
        "details": audit.details,
        "method": request.method,
        "path": request.path,
    }


def seal_entry(status: int) -> bytes:
    """Fix this request's entry now and return its RFC 9162 leaf hash.

    For a response that carries its own audit leaf (the publish receipt, DESIGN §3). The
    entry is written with these bytes if the response keeps this status; if it fails
    after all, the work is rolled back and an entry with the real status is written.
    """
    audit: RequestAudit = g.audit
    canonical = entry_bytes(**_entry_arguments(audit, status))
    audit.sealed = (status, tuple(audit.targets), canonical)
    return leaf_hash(canonical)


def write_entry(arguments: dict[str, Any]) -> None:
    """The entry, and with it the request's one commit: a read commits only for its entry."""
    # Whatever the session still holds goes first, into the same transaction.
    db.session.flush()
    append_entry(**arguments, commit=True)
    # The transaction is committed; the session ends its own view of it.
    db.session.commit()


def finish_request(response: Response) -> Response:
    audit: RequestAudit | None = getattr(g, "audit", None)
    if audit is None:
        return response
    status = response.status_code
    try:
        if status >= 400 and not audit.keep_work:
            db.session.rollback()
        arguments = _entry_arguments(audit, status)
        if audit.sealed is not None and audit.sealed[0] == status:
            arguments.update(targets=audit.sealed[1], canonical=audit.sealed[2])
        write_entry(arguments)
        wake_integrator()
    except Exception:
        # Fail closed: without its audit entry the request did not happen.
        log.exception("audit entry for request %s could not be written", g.request_id)
        db.session.rollback()
        g.audit = None
        return problem_response(
            Problem(
                503,
                "audit_unavailable",
                "Audit log unavailable",
                "The request was not carried out.",
            )
        )
    response.headers["Exchange-Request-Id"] = g.request_id
    return response


def init_app(app: Flask) -> None:
    app.before_request(begin_request)
    app.after_request(finish_request)
