"""Liaison officers' pages: their agency's subscriptions.

A subscription belongs to one of the agency's systems; an officer manages those of every
system of their own agency and never another agency's (``get_subscription`` answers
another agency's subscription as absent). Creating one acts for the chosen system: the
services receive the officer's identity with that system added, and the audit entry names
the officer, the system and the subscription.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from werkzeug.wrappers import Response
from wtforms import RadioField, SelectField, SelectMultipleField, StringField, URLField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput

from exchange.agencies.models import System
from exchange.agencies.policy import current_policy
from exchange.auth.actor import Actor
from exchange.errors import Refusal
from exchange.extensions import db
from exchange.feeds import deadletters, service
from exchange.feeds.models import DeadLetter, Subscription
from exchange.records import presentation as words
from exchange.records.pages_forms import choices
from exchange.records.pages_places import (
    country_choices,
    country_label,
    prefecture_choices,
    prefecture_label,
)
from exchange.records.pages_record import agency_directory
from exchange.ui.access import enter_page, page

bp = Blueprint("subscriptions_ui", __name__)
bp.before_request(enter_page)

STATES: Mapping[str, Any] = {"active": _l("Active"), "paused": _l("Paused")}
MODES: Mapping[str, Any] = {
    "pull": _l("Pull: our system fetches the feed"),
    "push": _l("Push: the exchange delivers to our endpoint"),
}


@bp.before_request
def _note_subscription() -> None:
    # Every page about one subscription names it in the request's audit entry.
    subscription_id = (request.view_args or {}).get("subscription_id")
    if isinstance(subscription_id, str):
        g.audit.details["subscription"] = subscription_id[:36]


def _filter(label: Any, options: Any) -> SelectMultipleField:
    return SelectMultipleField(label, choices=options, validators=[Optional()])


def _categories() -> list[Any]:
    return [
        *choices(words.BROKER_CATEGORIES, None, words.RECORD_TYPES["broker"]),
        *choices(words.FINDINGS, None, words.RECORD_TYPES["school"]),
        *choices(words.INDUSTRIES, None, _l("Industry (illegal employment)")),
    ]


def _allegations() -> list[Any]:
    return [
        *choices(words.ALLEGATIONS, None, _l("Allegations against brokers")),
        *choices(words.OFFENCES, None, _l("Offences (illegal employment)")),
    ]


class SubscriptionForm(FlaskForm):
    name = StringField(_l("Name of the subscription"), validators=[DataRequired(), Length(max=100)])
    system = SelectField(_l("System that receives it"), choices=[], validators=[DataRequired()])
    types = SelectMultipleField(
        _l("Record types"),
        choices=lambda: choices(words.RECORD_TYPES, None),
        validators=[DataRequired(message=_l("Choose at least one record type."))],
        option_widget=CheckboxInput(),
    )
    publisher = _filter(_l("Publisher"), [])
    publisher_kind = _filter(_l("Publisher kind"), lambda: choices(words.AGENCY_KINDS, None))
    country = _filter(_l("Country"), lambda: choices(country_choices(), None))
    prefecture = _filter(_l("Prefecture"), lambda: choices(prefecture_choices(), None))
    category = _filter(_l("Category"), _categories)
    allegation = _filter(_l("Allegation or offence"), _allegations)
    programme = _filter(_l("Programme"), lambda: choices(words.PROGRAMMES, None))
    status = _filter(_l("Status"), lambda: choices(words.STATUSES, None))
    mode = RadioField(
        _l("Delivery"),
        choices=lambda: choices(MODES, None),
        default="pull",
        validators=[DataRequired()],
    )
    endpoint = URLField(_l("Endpoint (https, push only)"), validators=[Optional(), Length(max=500)])

    def filters(self) -> dict[str, list[str]]:
        return {
            name: getattr(self, name).data for name in service.FILTERS if getattr(self, name).data
        }


def _systems() -> list[System]:
    return list(
        db.session.scalars(
            select(System).where(System.agency_id == g.user.agency_id).order_by(System.name)
        )
    )


def _dead_letter_counts(ids: list[str]) -> dict[str, int]:
    """Events waiting in dead letters, per subscription, in one query."""
    if not ids:
        return {}
    rows = db.session.execute(
        select(DeadLetter.subscription_id, func.count())
        .where(DeadLetter.subscription_id.in_(ids), DeadLetter.state != "delivered")
        .group_by(DeadLetter.subscription_id)
    )
    return {subscription_id: int(count) for subscription_id, count in rows}


def _own(subscription_id: str) -> Subscription:
    return service.get_subscription(actor=g.actor, subscription_id=subscription_id)


def _described(subscriptions: list[Subscription]) -> list[dict[str, Any]]:
    systems = {s.id: s.name for s in _systems()}
    counts = _dead_letter_counts([s.id for s in subscriptions])
    return [
        {
            "row": s,
            "system": systems.get(s.system_id, str(s.system_id)),
            "types": [words.label_of(words.RECORD_TYPES, t) for t in s.types.split()]
            if s.feed == "records"
            else [_("Referral events of your agency")],
            "filters": json.loads(s.filters),
            "dead_letters": counts.get(s.id, 0),
        }
        for s in subscriptions
    ]


def _render(template: str, **context: Any) -> str:
    return render_template(
        template,
        states=STATES,
        modes=MODES,
        filter_names=words.FILTER_NAMES,
        filter_value=_filter_value,
        directory=agency_directory(),
        **context,
    )


def _filter_value(name: str, code: str) -> str:
    """A filter's value as people read it."""
    vocabularies: Mapping[str, Mapping[str, Any]] = {
        "publisher_kind": words.AGENCY_KINDS,
        "allegation": {**words.ALLEGATIONS, **words.OFFENCES},
        "programme": words.PROGRAMMES,
        "status": words.STATUSES,
        "category": {**words.INDUSTRIES, **words.FINDINGS, **words.BROKER_CATEGORIES},
    }
    if name == "country":
        return country_label(code)
    if name == "prefecture":
        return prefecture_label(code)
    return words.label_of(vocabularies.get(name, {}), code)


@bp.route("/subscriptions", methods=["GET"])
@page("subscription.list", "liaison")
def index() -> str:
    subscriptions = service.list_subscriptions(actor=g.actor)
    return _render("subscriptions/index.html", subscriptions=_described(subscriptions))


def _system_actor(system: System) -> Actor:
    """The officer, acting for one of their agency's systems: both are in the audit entry."""
    officer: Actor = g.actor
    return dataclasses.replace(officer, system_id=system.id, system_name=system.name)


def _refusal_to_form(form: SubscriptionForm, problem: Refusal) -> None:
    if problem.code == "policy_denied":
        form.types.errors = [_("Your agency may not subscribe to one of these record types.")]
        return
    for error in problem.errors or ():
        member = str(error.get("pointer", "")).strip("/").split("/")
        target = getattr(form, member[-1], None) if member else None
        if target is None or not hasattr(target, "errors"):
            target = form.name
        target.errors = [*target.errors, str(error.get("detail", ""))]


@bp.route("/subscriptions/new", methods=["GET", "POST"])
@page("subscription.create", "liaison")
def create() -> Any:
    systems = _systems()
    form = SubscriptionForm()
    form.system.choices = choices([(str(s.id), s.name) for s in systems], None)
    form.publisher.choices = choices([(a.id, a.label()) for a in agency_directory().values()], None)
    if request.method == "GET":
        g.audit.action = "subscription.form"
        return _render("subscriptions/new.html", form=form)
    if not form.validate():
        return _render("subscriptions/new.html", form=form), 422
    system = next(s for s in systems if str(s.id) == form.system.data)
    g.audit.details["system"] = system.name
    try:
        subscription = service.create_subscription(
            actor=_system_actor(system),
            policy=current_policy(),
            name=form.name.data or "",
            types=form.types.data or [],
            filters=form.filters(),
            mode=form.mode.data or "pull",
            endpoint=(form.endpoint.data or None) if form.mode.data == "push" else None,
        )
    except Refusal as problem:
        g.audit.details["refused"] = problem.code
        _refusal_to_form(form, problem)
        return _render("subscriptions/new.html", form=form), 422
    g.audit.details["subscription"] = subscription.id
    flash(_("Subscription created."), "success")
    return redirect(url_for("subscriptions_ui.detail", subscription_id=subscription.id))


@bp.route("/subscriptions/<string:subscription_id>", methods=["GET"])
@page("subscription.read", "liaison")
def detail(subscription_id: str) -> str:
    subscription = _own(subscription_id)
    return _render(
        "subscriptions/detail.html",
        item=_described([subscription])[0],
        dead_letters=deadletters.dead_letter_documents(subscription.id),
    )


def _set_state(subscription_id: str, state: str, message: str) -> Response:
    g.audit.details["state"] = state
    service.set_state(actor=g.actor, subscription_id=subscription_id, state=state)
    flash(message, "success")
    return redirect(url_for("subscriptions_ui.detail", subscription_id=subscription_id))


@bp.route("/subscriptions/<string:subscription_id>/pause", methods=["POST"])
@page("subscription.update", "liaison")
def pause(subscription_id: str) -> Response:
    return _set_state(subscription_id, "paused", _("Subscription paused."))


@bp.route("/subscriptions/<string:subscription_id>/resume", methods=["POST"])
@page("subscription.update", "liaison")
def resume(subscription_id: str) -> Response:
    return _set_state(subscription_id, "active", _("Subscription resumed."))


@bp.route("/subscriptions/<string:subscription_id>/delete", methods=["GET", "POST"])
@page("subscription.delete", "liaison")
def delete(subscription_id: str) -> Any:
    subscription = _own(subscription_id)
    if request.method == "GET":
        # Asking is not deleting: the entry says the confirmation was shown.
        g.audit.action = "subscription.delete_confirm"
        return _render("subscriptions/delete.html", item=_described([subscription])[0])
    service.delete_subscription(actor=g.actor, subscription_id=subscription.id)
    flash(_("Subscription deleted."), "success")
    return redirect(url_for("subscriptions_ui.index"))


@bp.route("/subscriptions/<string:subscription_id>/redrive", methods=["POST"])
@page("subscription.redrive", "liaison")
def redrive(subscription_id: str) -> Response:
    subscription = _own(subscription_id)
    count = deadletters.redrive(subscription=subscription)
    g.audit.details["redriven"] = count
    flash(_("%(count)s events will be delivered again.", count=count), "success")
    return redirect(url_for("subscriptions_ui.detail", subscription_id=subscription.id))
