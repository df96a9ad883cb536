"""The audit entry of each request: what it did, to which records, why, and how it ended.

The entry is written in the request's own transaction, just before its one commit
(exchange.unit_of_work).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from flask import current_app, g, request

from exchange.auth.actor import Actor
from exchange.auth.mtls import client_fingerprint
from exchange.clock import utcnow, uuid7
from exchange.trail.entries import append_entry

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


def request_audit() -> RequestAudit | None:
    """This request's audit, or None once it was given up (see :func:`forget`)."""
    return getattr(g, "audit", None)


def add_entry(audit: RequestAudit, status: int) -> None:
    """Add the request's entry, for a response of ``status``, to its transaction."""
    append_entry(**_entry_arguments(audit, status))


def forget() -> None:
    """No entry for this request: its transaction failed and its response says so."""
    g.audit = None
