"""Administrators' pages for people: accounts, roles, second factors, lockouts."""

from __future__ import annotations

from dataclasses import dataclass

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from exchange.agencies.forms import RolesForm, UserForm, agency_choices, explain, refused_field
from exchange.agencies.service import list_agencies
from exchange.auth.models import User
from exchange.auth.service import (
    create_user,
    get_user,
    list_users,
    reset_second_factor,
    set_disabled,
    set_roles,
)
from exchange.clock import as_utc, utcnow
from exchange.errors import Refusal
from exchange.ui.access import page


@dataclass(frozen=True)
class Account:
    """A user as the list shows them: the states an administrator acts on."""

    user: User
    enrolled: bool
    locked: bool
    disabled: bool


def account(user: User) -> Account:
    return Account(
        user=user,
        enrolled=user.totp_enrolled_at is not None,
        locked=user.locked_until is not None and as_utc(user.locked_until) > utcnow(),
        disabled=user.disabled_at is not None,
    )


def unlock_user(*, user: User) -> None:
    """Lift a lockout after failed sign-ins (as ``exchange user unlock`` does)."""
    user.locked_until = None
    user.failed_logins = 0


def _user(username: str) -> User:
    user = get_user(username[:64])
    g.audit.details["user"] = user.username
    return user


@page("admin.user.list", "admin")
def users() -> str:
    agencies = list_agencies()
    chosen = request.args.get("agency") or None
    if chosen not in {a.id for a in agencies}:
        chosen = None
    if chosen:
        g.audit.details["agency"] = chosen
    return render_template(
        "admin/users.html",
        accounts=[account(u) for u in list_users(chosen)],
        agencies=agencies,
        chosen=chosen,
    )


def _user_form() -> UserForm:
    form = UserForm()
    form.agency.choices = agency_choices(list_agencies())
    return form


@page("admin.user.read", "admin")
def new_user() -> str:
    form = _user_form()
    if request.args.get("agency"):
        form.agency.data = request.args["agency"]
    return render_template("admin/user_new.html", form=form)


@page("admin.user.create", "admin")
def create_user_page() -> Response | tuple[str, int]:
    form = _user_form()
    if not form.validate_on_submit():
        return render_template("admin/user_new.html", form=form), 422
    username = form.username.data or ""
    roles = tuple(form.roles.data or ())
    g.audit.details.update(user=username, agency=form.agency.data, roles=" ".join(roles))
    try:
        create_user(
            actor=g.actor,
            username=username,
            display_name=form.display_name.data or "",
            agency_id=form.agency.data or "",
            roles=roles,
            password=form.password.data or "",
        )
    except Refusal as problem:
        target = {"user_exists": "username", "agency_not_found": "agency"}.get(problem.code)
        getattr(form, target or refused_field(problem) or "username").errors.append(
            explain(problem)
        )
        return render_template("admin/user_new.html", form=form), 422
    flash(
        _(
            "User %(user)s was created. They set up their second factor at their first sign-in.",
            user=username,
        ),
        "success",
    )
    return redirect(url_for("agencies_ui.user", username=username))


def _user_page(
    user: User, roles_form: RolesForm, status: int = 200, error: object = None
) -> tuple[str, int]:
    return render_template(
        "admin/user.html",
        account=account(user),
        roles_form=roles_form,
        is_self=user.username == g.user.username,
        error=error,
    ), status


@page("admin.user.read", "admin")
def user(username: str) -> tuple[str, int]:
    found = _user(username)
    form = RolesForm(data={"roles": sorted(found.role_set)})
    return _user_page(found, form)


@page("admin.user.roles", "admin")
def change_roles(username: str) -> Response | tuple[str, int]:
    found = _user(username)
    form = RolesForm()
    if not form.validate_on_submit():
        return _user_page(found, form, 422)
    roles = tuple(form.roles.data or ())
    g.audit.details.update(before=found.roles, roles=" ".join(roles))
    try:
        set_roles(actor=g.actor, user=found, roles=roles)
    except Refusal as problem:
        form.roles.errors.append(explain(problem))
        return _user_page(found, form, 422)
    flash(_("The roles of %(user)s were changed.", user=found.username), "success")
    return redirect(url_for("agencies_ui.user", username=found.username))


def _refused(found: User, problem: Refusal) -> tuple[str, int]:
    form = RolesForm(data={"roles": sorted(found.role_set)})
    return _user_page(found, form, 422, error=explain(problem))


@page("admin.user.reset_second_factor", "admin")
def reset_second_factor_page(username: str) -> Response:
    found = _user(username)
    reset_second_factor(actor=g.actor, user=found)
    flash(
        _(
            "The second factor of %(user)s was reset: they set up a new one at their next "
            "sign-in. Their open sessions have ended.",
            user=found.username,
        ),
        "success",
    )
    return redirect(url_for("agencies_ui.user", username=found.username))


@page("admin.user.unlock", "admin")
def unlock(username: str) -> Response:
    found = _user(username)
    unlock_user(user=found)
    flash(_("%(user)s can sign in again.", user=found.username), "success")
    return redirect(url_for("agencies_ui.user", username=found.username))


def _set_disabled(username: str, *, disabled: bool) -> Response | tuple[str, int]:
    found = _user(username)
    try:
        set_disabled(actor=g.actor, user=found, disabled=disabled)
    except Refusal as problem:
        return _refused(found, problem)
    message = (
        _("%(user)s was disabled; their open sessions have ended.", user=found.username)
        if disabled
        else _("%(user)s was enabled.", user=found.username)
    )
    flash(message, "success")
    return redirect(url_for("agencies_ui.user", username=found.username))


@page("admin.user.disable", "admin")
def disable(username: str) -> Response | tuple[str, int]:
    return _set_disabled(username, disabled=True)


@page("admin.user.enable", "admin")
def enable(username: str) -> Response | tuple[str, int]:
    return _set_disabled(username, disabled=False)
