"""What the API and the pages share: the request's notice context, and the stable code of
a refused action kept in the request's audit entry."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, cast

from flask import current_app, g

from exchange.errors import Refusal
from exchange.notices.checks import NoticeContext

F = TypeVar("F", bound=Callable[..., Any])


def notes_refusal(view: F) -> F:
    """An auditor reads why a step was refused (self-approval, forged signature …) in the
    entry itself, not only its status."""

    @functools.wraps(view)
    def noted(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except Refusal as refusal:
            g.audit.details["refused"] = refusal.code
            raise

    return cast(F, noted)


def request_context() -> NoticeContext:
    """The acting identity and the audit entry of this request, for the notice service."""
    return NoticeContext(
        actor=g.actor,
        received_at=g.audit.received_at,
        audit_entry_id=g.request_id,
        clock_skew=timedelta(seconds=current_app.config["EXCHANGE_CLOCK_SKEW_SECONDS"]),
        targets=g.audit.targets,
        details=g.audit.details,
    )
