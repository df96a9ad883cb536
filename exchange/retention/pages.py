"""Administrators' pages for legal holds: ask for one, approve another's, lift one."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from exchange.errors import Kind, Refusal
from exchange.extensions import db
from exchange.problems import Problem
from exchange.records.models import Record
from exchange.retention.forms import HoldApproveForm, HoldLiftForm, HoldRequestForm
from exchange.retention.holds import (
    administrator,
    approve_hold,
    lift_hold,
    list_holds,
    record_id_of,
    request_hold,
)
from exchange.retention.models import LegalHold
from exchange.ui.access import enter_page, page
from exchange.urlnumbers import canonical_int

bp = Blueprint("retention_ui", __name__, url_prefix="/admin/holds")
bp.before_request(enter_page)

# The services' refusals in the reader's language; the console shows their English.
_REFUSALS: dict[str, Any] = {
    "four_eyes_required": _l("The administrator who asked for a hold cannot approve it."),
    "hold_exists": _l("This record already has a hold awaiting approval or in force."),
    "hold_not_pending": _l("This hold is not awaiting approval."),
    "hold_lifted": _l("This hold was lifted already."),
    "record_not_found": _l("No record has this ID."),
    "record_disposed": _l("This record was disposed of already."),
    "reason_required": _l("A reason is required."),
}


def _explain(problem: Refusal) -> Any:
    return _REFUSALS.get(problem.code, problem.detail or problem.title)


def _holds_page(
    request_form: HoldRequestForm | None = None, status: int = 200, error: Any = None
) -> tuple[str, int]:
    holds = list_holds(actor=g.actor, include_lifted=True)
    return render_template(
        "admin/holds.html",
        holds=holds,
        me=administrator(g.actor),
        request_form=request_form or HoldRequestForm(),
        approve_form=HoldApproveForm(),
        lift_form=HoldLiftForm(),
        error=error,
    ), status


def _number(hold_id: str) -> int:
    number = canonical_int(hold_id)
    # Hold numbers are the table's integer keys: a larger one names no hold.
    if number is None or number >= 2**31:
        raise Refusal(Kind.NOT_FOUND, "hold_not_found", "No such hold", "No hold of that number.")
    g.audit.details["hold"] = number
    return number


def _targets(hold: LegalHold) -> None:
    record = db.session.get(Record, hold.record_pk)
    g.audit.targets.append((record_id_of(hold), record.version if record else 0))
    g.audit.details["hold"] = hold.id


@bp.route("", methods=["GET"])
@page("admin.hold.list", "admin")
def holds() -> tuple[str, int]:
    return _holds_page()


@bp.route("", methods=["POST"])
@page("admin.hold.request", "admin")
def ask() -> Response | tuple[str, int]:
    form = HoldRequestForm()
    if not form.validate_on_submit():
        return _holds_page(form, 422)
    record_id = (form.record_id.data or "").strip()
    g.audit.details["record"] = record_id
    try:
        hold = request_hold(actor=g.actor, record_id=record_id, reason=form.reason.data or "")
    except Refusal as problem:
        field = form.reason if problem.code == "reason_required" else form.record_id
        field.errors = [*field.errors, _explain(problem)]
        return _holds_page(form, Problem.of(problem).status)
    _targets(hold)
    flash(_("The hold was asked for. Another administrator approves it."), "success")
    return redirect(url_for("retention_ui.holds"))


@bp.route("/<hold_id>/approve", methods=["POST"])
@page("admin.hold.approve", "admin")
def approve(hold_id: str) -> Response | tuple[str, int]:
    number = _number(hold_id)
    if not HoldApproveForm().validate_on_submit():
        return _holds_page(status=422)
    try:
        hold = approve_hold(actor=g.actor, hold_id=number)
    except Refusal as problem:
        return _holds_page(status=Problem.of(problem).status, error=_explain(problem))
    _targets(hold)
    flash(_("The hold is in force: the record is kept until it is lifted."), "success")
    return redirect(url_for("retention_ui.holds"))


@bp.route("/<hold_id>/lift", methods=["POST"])
@page("admin.hold.lift", "admin")
def lift(hold_id: str) -> Response | tuple[str, int]:
    number = _number(hold_id)
    form = HoldLiftForm()
    if not form.validate_on_submit():
        return _holds_page(status=422, error=_l("A reason is required."))
    try:
        hold = lift_hold(actor=g.actor, hold_id=number, reason=form.reason.data or "")
    except Refusal as problem:
        return _holds_page(status=Problem.of(problem).status, error=_explain(problem))
    _targets(hold)
    flash(_("The hold was lifted."), "success")
    return redirect(url_for("retention_ui.holds"))
