"""Administrators' pages for agencies' record-signing keys: register, retire, revoke."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from exchange.agencies.forms import agency_choices
from exchange.agencies.service import get_agency, list_agencies
from exchange.clock import utcnow
from exchange.errors import Refusal
from exchange.jsonbody import parse_json
from exchange.pki.forms import KeyForm, KeyRevokeForm
from exchange.pki.models import SigningKey
from exchange.pki.service import (
    agency_keys,
    get_signing_key,
    key_document,
    register_signing_key,
    retire_signing_key,
    revoke_signing_key,
)
from exchange.ui.access import page
from exchange.ui.filters import JST, to_jst


def jst_input_to_utc(moment: datetime) -> datetime:
    """A ``datetime-local`` value, which people here enter in Japan time, as UTC."""
    return moment.replace(tzinfo=JST).astimezone(UTC)


def _key_form() -> KeyForm:
    form = KeyForm()
    form.agency.choices = agency_choices(list_agencies())
    return form


def _keys_page(form: KeyForm, status: int = 200) -> tuple[str, int]:
    agencies = list_agencies()
    chosen = request.args.get("agency") or form.agency.data or None
    shown = [a for a in agencies if chosen in (None, a.id)] if chosen else agencies
    return render_template(
        "admin/keys.html",
        form=form,
        groups=[(a, agency_keys(a.id)) for a in shown],
        agencies=agencies,
        chosen=chosen if shown != agencies else None,
    ), status


@page("admin.key.list", "admin")
def keys() -> tuple[str, int]:
    form = _key_form()
    if request.args.get("agency"):
        form.agency.data = request.args["agency"]
        g.audit.details["agency"] = request.args["agency"][:32]
    return _keys_page(form)


@page("admin.key.register", "admin")
def register() -> Response | tuple[str, int]:
    form = _key_form()
    if not form.validate_on_submit():
        return _keys_page(form, 422)
    agency_id = form.agency.data or ""
    g.audit.details["agency"] = agency_id
    try:
        # The same strict reader as the API: one reading of a key, whatever is pasted.
        jwk = parse_json(
            (form.jwk.data or "").encode(), max_depth=current_app.config["EXCHANGE_MAX_JSON_DEPTH"]
        )
    except Refusal:
        jwk = None
    if not isinstance(jwk, dict):
        form.jwk.errors.append(_("This is not a JSON object. Paste the whole key.pub.jwk file."))
        return _keys_page(form, 422)
    if "d" in jwk:
        # The private half must never leave the agency: refuse it rather than drop it.
        form.jwk.errors.append(
            _(
                "This is a private key. Paste the public key (key.pub.jwk) only, and have "
                "the agency make a new key: this one has left its hands."
            )
        )
        return _keys_page(form, 422)
    try:
        registered = register_signing_key(
            actor=g.actor, agency_id=agency_id, jwk=jwk, proof=(form.proof.data or "").strip()
        )
    except Refusal as problem:
        g.audit.details["refusal"] = problem.code
        target = (
            form.jwk if problem.code in ("key_invalid", "algorithm_unsupported") else form.proof
        )
        target.errors.append(_refusal(problem))
        return _keys_page(form, 422)
    g.audit.details["kid"] = registered.kid
    flash(
        _("Key %(kid)s was registered for %(agency)s.", kid=registered.kid, agency=agency_id),
        "success",
    )
    return redirect(url_for("pki_ui.key", kid=registered.kid))


def _refusal(problem: Refusal) -> str:
    messages = {
        "proof_invalid": _(
            "The proof of possession does not match this key and agency, or it is older "
            "than ten minutes. Make a new one with the client CLI and paste both again."
        ),
        "key_exists": _("This key is registered to another agency."),
    }
    if problem.code in messages:
        return str(messages[problem.code])
    return str(_("The key was refused: %(reason)s", reason=problem.detail or problem.title))


def _key(kid: str) -> SigningKey:
    found = get_signing_key(kid[:64])
    g.audit.details.update(kid=found.kid, agency=found.agency_id)
    return found


def _key_page(
    found: SigningKey, form: KeyRevokeForm | None = None, status: int = 200
) -> tuple[str, int]:
    if form is None:
        form = KeyRevokeForm(data={"compromised_at": to_jst(utcnow())})
    return render_template(
        "admin/key.html",
        key=found,
        agency=get_agency(found.agency_id),
        document=json.dumps(key_document(found), indent=2, ensure_ascii=False),
        form=form,
    ), status


@page("admin.key.read", "admin")
def key(kid: str) -> tuple[str, int]:
    return _key_page(_key(kid))


@page("admin.key.retire", "admin")
def retire(kid: str) -> Response:
    found = _key(kid)
    retire_signing_key(actor=g.actor, kid=found.kid)
    flash(_("The key was retired. What it signed before stays valid."), "success")
    return redirect(url_for("pki_ui.key", kid=found.kid))


@page("admin.key.revoke", "admin")
def revoke_key(kid: str) -> Response | tuple[str, int]:
    found = _key(kid)
    form = KeyRevokeForm()
    if not form.validate_on_submit() or form.compromised_at.data is None:
        return _key_page(found, form, 422)
    compromised_at = jst_input_to_utc(form.compromised_at.data)
    g.audit.details["compromised_at"] = compromised_at.isoformat()
    try:
        revoke_signing_key(actor=g.actor, kid=found.kid, compromised_at=compromised_at)
    except Refusal:
        form.compromised_at.errors.append(_("The compromise time cannot be in the future."))
        return _key_page(found, form, 422)
    flash(
        _(
            "The key was revoked. Records it signed after the compromise time are flagged "
            "wherever they are shown or delivered."
        ),
        "success",
    )
    return redirect(url_for("pki_ui.key", kid=found.kid))
