"""Who may see a page: every UI view declares its roles, and a view that does not is refused.

``page`` names a view's audit action and the roles that may open it; ``enter_page`` runs
before every UI view, resumes the session, checks the CSRF token of unsafe methods and the
roles, and puts the signed-in user in ``g`` as the acting identity.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import current_app, g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response

from exchange.auth.models import User
from exchange.auth.service import user_actor
from exchange.auth.sessions import resume_session, start_session
from exchange.problems import Problem
from exchange.trail.recorder import audited

F = TypeVar("F", bound=Callable[..., Any])

LANGUAGES = ("ja", "en")
# Pages anyone may open (sign-in, language); every other page needs a session.
PUBLIC = frozenset({"public"})
SIGNED_IN = frozenset({"signed_in"})


def page(action: str, *roles: str, public: bool = False) -> Callable[[F], F]:
    """Declare a UI view: its audit action and who may open it (any of ``roles``)."""

    def decorate(view: F) -> F:
        view.ui_access = PUBLIC if public else (frozenset(roles) or SIGNED_IN)  # type: ignore[attr-defined]
        return audited(action)(view)

    return decorate


def select_locale() -> str:
    chosen = session.get("lang") if current_app.secret_key else None
    if chosen in LANGUAGES:
        return str(chosen)
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


def safe_next(target: str | None, default: str = "/") -> str:
    """A redirect target inside this site only: a path, never a host (open redirects)."""
    if not target:
        return default
    target = target.replace("\\", "/")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if any(ord(c) < 0x20 for c in target):
        return default
    return target


def fresh_browser_session() -> None:
    """Drop everything the browser's session held (no session fixation) but its language."""
    language = session.get("lang")
    session.clear()
    if language in LANGUAGES:
        session["lang"] = language


def sign_in_browser(user: User, *, address: str) -> None:
    """A fresh session for the user, at the end of any way of signing in."""
    fresh_browser_session()
    session["sid"] = start_session(user, address=address)
    session.permanent = True


def _resume() -> None:
    token = session.get("sid")
    if not token:
        return
    config = current_app.config
    resumed = resume_session(
        str(token),
        idle=timedelta(minutes=config["EXCHANGE_UI_IDLE_MINUTES"]),
        lifetime=timedelta(hours=config["EXCHANGE_UI_SESSION_HOURS"]),
    )
    if resumed is None:
        session.pop("sid", None)
        # Said on the sign-in page the browser is sent to next, a request later.
        session["ended"] = True
        g.session_expired = True
        return
    g.user, g.web_session = resumed
    g.actor = user_actor(g.user, address=request.remote_addr)


def enter_page() -> Response | None:
    """``before_request`` of every UI blueprint."""
    g.page = True
    g.user = None
    _resume()
    view = current_app.view_functions.get(request.endpoint or "")
    access: frozenset[str] | None = getattr(view, "ui_access", None)
    if access is None:
        # Fail closed: a page that forgot to say who may see it is seen by no one.
        raise Problem(403, "page_undeclared", "Not available")
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        from exchange.ui import csrf

        try:
            csrf.protect()
        except CSRFError as error:
            g.audit.action = "auth.denied"
            g.audit.details["reason"] = "csrf_invalid"
            g.audit.details["detail"] = str(error.description)
            raise Problem(
                400,
                "csrf_invalid",
                "Form expired",
                "The form was not sent from this site's page, or it expired. Reload and retry.",
            ) from None
    if access == PUBLIC:
        return None
    if g.user is None:
        g.audit.action = "auth.denied"
        g.audit.details["reason"] = "signed_out"
        target = request.full_path if request.method == "GET" else None
        return redirect(url_for("auth.login", next=safe_next(target and target.rstrip("?"))))
    if access != SIGNED_IN and not access & g.user.role_set:
        g.audit.action = "auth.denied"
        g.audit.details["reason"] = "role_required"
        raise Problem(403, "role_required", "Not allowed", "Your role does not include this page.")
    return None
