"""Headers every response carries, the session cookie's key, and errors as pages."""

from __future__ import annotations

from flask import Flask, Request, Response, current_app, g, render_template, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from exchange.pki.vault import VaultMissing, load_vault
from exchange.problems import Problem, add_problem_renderer
from exchange.ui.problems import PAGE_TEXTS

# Nothing inline and nothing from elsewhere: scripts, styles and images come from the
# exchange itself, so an injected tag has nothing to run and nowhere to send data.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)

_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # Same-origin requests keep their Referer: the CSRF check compares it with the host.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
}

_HEADER_LIST = tuple(_HEADERS.items())

# Paths that are not pages: their errors stay RFC 9457 problem documents.
_MACHINE_PREFIXES = ("/api/", "/pki/", "/.well-known/", "/taxii2/")


class VaultSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, keyed by the vault's session key.

    The key is read when first needed, not at start-up, because an instance gets its vault
    from ``exchange init``, after the app object exists.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not _has_key(app):
            return None
        # Agency systems send no cookie: their requests need no session, nor the
        # serializer that reading one takes.
        if app.config["SESSION_COOKIE_NAME"] not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not _has_key(app):
            return None
        return super().get_signing_serializer(app)


def _has_key(app: Flask) -> bool:
    if not app.secret_key:
        try:
            app.secret_key = load_vault(app).session_key.hex()
        except VaultMissing:
            return False
    return True


def is_page_request() -> bool:
    if request.path.startswith(_MACHINE_PREFIXES):
        return False
    if getattr(g, "page", False):
        return True
    # Browsers name text/html; programs that send no Accept header get problem documents.
    if "text/html" not in request.headers.get("Accept", ""):
        return False
    best = request.accept_mimetypes.best_match(["text/html", "application/problem+json"])
    return best == "text/html"


def render_problem_page(problem: Problem) -> Response | None:
    if not is_page_request():
        return None
    title, explanation = PAGE_TEXTS.get(problem.code, (problem.title, problem.detail))
    body = render_template(
        "errors/problem.html", problem=problem, title=title, explanation=explanation
    )
    response = current_app.response_class(body, status=problem.status, mimetype="text/html")
    for name, value in problem.headers.items():
        response.headers[name] = value
    return response


def add_security_headers(response: Response) -> Response:
    # No view sets these itself: added at once, without a look-up per header.
    response.headers.extend(_HEADER_LIST)
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    if getattr(g, "page", False):
        # Pages show personal data: no copy in any cache, shared or the browser's.
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)
    add_problem_renderer(app, render_problem_page)
