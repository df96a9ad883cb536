"""Signing in and out of the web UI: password, then a TOTP code (enrolled by QR code)."""

from __future__ import annotations

import time

import segno
from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length, Regexp

from exchange.auth.models import User
from exchange.auth.service import (
    SignInRefused,
    begin_enrolment,
    check_address,
    check_password,
    check_second_factor,
    confirm_enrolment,
    pending_enrolment,
    record_failure,
)
from exchange.auth.sessions import end_session
from exchange.extensions import db
from exchange.ui.access import (
    LANGUAGES,
    enter_page,
    fresh_browser_session,
    page,
    safe_next,
    sign_in_browser,
)

bp = Blueprint("auth", __name__)
bp.before_request(enter_page)

# How long a password step stays good for its second factor.
PENDING_SECONDS = 300


class LoginForm(FlaskForm):
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])


class CodeForm(FlaskForm):
    code = StringField(
        _l("Six-digit code"),
        validators=[DataRequired(), Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message=_l("Six digits."))],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


def _address() -> str:
    return request.remote_addr or "unknown"


def _refused(reason: str, user: User | None) -> None:
    g.audit.action = "auth.login.failed"
    g.audit.details["reason"] = reason
    if user is not None:
        g.audit.details["user"] = user.username
    # The failure counters are the point of this request: keep them though it answers 401.
    g.audit.keep_work = True


def _pending_user() -> User | None:
    pending = session.get("pending")
    if not isinstance(pending, dict):
        return None
    if time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        session.pop("pending", None)
        return None
    user: User | None = db.session.get(User, int(pending.get("user", 0)))
    return user


def _signed_in(user: User) -> Response:
    """A fresh session for the user: everything the browser held before is dropped."""
    target = safe_next(session.get("pending", {}).get("next"), url_for("auth.home"))
    sign_in_browser(user, address=_address())
    g.audit.details["user"] = user.username
    return redirect(target)


@bp.route("/", methods=["GET"])
@page("ui.home")
def home() -> str:
    return render_template("auth/home.html")


@bp.route("/login", methods=["GET", "POST"])
@page("auth.login", public=True)
def login() -> Response | tuple[str, int] | str:
    form = LoginForm()
    if request.method == "GET" and g.user is not None:
        return redirect(safe_next(request.args.get("next"), url_for("auth.home")))
    if form.validate_on_submit():
        try:
            user = check_password(
                username=form.username.data or "",
                password=form.password.data or "",
                address=_address(),
            )
        except SignInRefused as refused:
            _refused(refused.reason, refused.user)
            status = 429 if refused.reason == "address_throttled" else 401
            message = (
                _("Too many failed attempts from your address. Try again later.")
                if status == 429
                else _("The user name or password is wrong, or the account is locked.")
            )
            return render_template("auth/login.html", form=form, error=message), status
        # Whatever the browser held before is dropped here too (no session fixation).
        fresh_browser_session()
        session["pending"] = {
            "user": user.id,
            "at": time.time(),
            "next": safe_next(request.args.get("next"), ""),
        }
        g.audit.action = "auth.login.password"
        g.audit.details["user"] = user.username
        if user.totp_enrolled_at is None:
            return redirect(url_for("auth.enrol"))
        return redirect(url_for("auth.second_factor"))
    ended = bool(session.pop("ended", False)) or getattr(g, "session_expired", False)
    return render_template(
        "auth/login.html",
        form=form,
        error=None,
        notice=_(
            "Your session ended: it was left unused too long, or reached its time limit. "
            "Sign in again to continue where you were."
        )
        if ended and request.method == "GET"
        else None,
        providers=current_app.config.get("EXCHANGE_OIDC_PROVIDERS") or {},
    )


@bp.route("/login/code", methods=["GET", "POST"])
@page("auth.login.second_factor", public=True)
def second_factor() -> Response | tuple[str, int] | str:
    user = _pending_user()
    if user is None:
        return redirect(url_for("auth.login"))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            check_second_factor(user=user, code=form.code.data or "", address=_address())
        except SignInRefused as refused:
            _refused(refused.reason, user)
            if refused.reason in ("account_locked", "account_disabled"):
                session.pop("pending", None)
            return render_template(
                "auth/second_factor.html",
                form=form,
                error=_("The code is wrong or was already used."),
            ), 401
        g.audit.action = "auth.login"
        return _signed_in(user)
    return render_template("auth/second_factor.html", form=form, error=None)


@bp.route("/login/enrol", methods=["GET", "POST"])
@page("auth.totp.enrol", public=True)
def enrol() -> Response | tuple[str, int] | str:
    user = _pending_user()
    if user is None or user.totp_enrolled_at is not None:
        return redirect(url_for("auth.login"))
    try:
        check_address(_address())
    except SignInRefused as refused:
        _refused(refused.reason, user)
        return redirect(url_for("auth.login"))
    form = CodeForm()
    enrolment = pending_enrolment(user)
    if enrolment is None or (request.method == "GET" and not form.is_submitted()):
        enrolment = begin_enrolment(user)
    if form.validate_on_submit():
        if confirm_enrolment(user, form.code.data or ""):
            g.audit.action = "auth.totp.enrolled"
            user.failed_logins = 0
            return _signed_in(user)
        record_failure(address=_address(), user=user)
        _refused("enrolment_code_invalid", user)
        status = 401
        error: str | None = _("The code does not match. Scan the QR code again and retry.")
    else:
        status, error = 200, None
    # An image, not inline SVG markup: the Content-Security-Policy allows data: images only.
    qr_image = segno.make(enrolment.uri, error="m").svg_data_uri(scale=5, border=2)
    return render_template(
        "auth/enrol.html",
        form=form,
        error=error,
        qr_image=qr_image,
        secret=enrolment.secret,
    ), status


@bp.route("/logout", methods=["POST"])
@page("auth.logout")
def logout() -> Response:
    token = session.get("sid")
    if token:
        end_session(str(token))
    fresh_browser_session()
    return redirect(url_for("auth.login"))


@bp.route("/language", methods=["POST"])
@page("ui.language", public=True)
def language() -> Response:
    chosen = request.form.get("lang")
    if chosen in LANGUAGES:
        session["lang"] = chosen
    return redirect(safe_next(request.form.get("next"), url_for("auth.home")))
