"""The referral policy for administrators: for each kind of referral, which kinds of agency
may send it to which; versioned, changed after a confirmation that shows what changes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from exchange.agencies.forms import ReferralPolicyConfirmForm, ReferralPolicyForm
from exchange.agencies.models import AGENCY_KINDS
from exchange.agencies.policy_pages import (
    HISTORY_LENGTH,
    grid_changes,
    grid_from_form,
    policy_authors,
)
from exchange.errors import Refusal
from exchange.extensions import db
from exchange.problems import Problem
from exchange.referrals.labels import KIND_LABELS
from exchange.referrals.models import ReferralPolicyVersion
from exchange.referrals.policy import (
    Rules,
    current_referral_policy,
    set_referral_policy,
    validate_referral_rules,
)
from exchange.ui.access import page
from exchange.urlnumbers import canonical_int
from schemas.referral import REFERRAL_KINDS

UPDATE_ACTION = "admin.referral_policy.update"


@dataclass(frozen=True)
class Change:
    referral_kind: str
    sender: str
    receiver: str
    granted: bool

    @property
    def code(self) -> str:
        return f"{'+' if self.granted else '-'}{self.referral_kind}:{self.sender}:{self.receiver}"


def cell_name(referral_kind: str, sender: str, receiver: str) -> str:
    """The checkbox of one permission: ``sender`` may send ``referral_kind`` to ``receiver``."""
    return f"refer.{referral_kind}.{sender}.{receiver}"


def rules_from_form(form: Mapping[str, str]) -> dict[str, dict[str, list[str]]]:
    return grid_from_form(form, REFERRAL_KINDS, AGENCY_KINDS, cell_name)


def rule_changes(before: Rules, after: Rules) -> list[Change]:
    """Each permission one version grants or withdraws compared with the one before."""
    return [Change(*change) for change in grid_changes(before, after, REFERRAL_KINDS, AGENCY_KINDS)]


def _context(**extra: Any) -> dict[str, Any]:
    return {
        "kinds": AGENCY_KINDS,
        "referral_kinds": REFERRAL_KINDS,
        "referral_kind_labels": KIND_LABELS,
        "cell_name": cell_name,
        **extra,
    }


def _history() -> list[ReferralPolicyVersion]:
    return list(
        db.session.scalars(
            select(ReferralPolicyVersion)
            .order_by(ReferralPolicyVersion.version.desc())
            .limit(HISTORY_LENGTH)
        )
    )


def _edit_page(form: ReferralPolicyForm, rules: Rules, status: int = 200) -> tuple[str, int]:
    history = _history()
    return render_template(
        "admin/referral_policy.html",
        **_context(
            form=form,
            rules=rules,
            current=current_referral_policy(),
            history=history,
            authors=policy_authors([v.version for v in history], UPDATE_ACTION),
        ),
    ), status


def _error(form: Any, message: str) -> None:
    # A form that was not validated holds its errors in a tuple.
    form.note.errors = [*form.note.errors, message]


def _stale(form: Any, version: int) -> None:
    _error(
        form,
        _(
            "The referral policy was changed by someone else (now version %(version)s) after "
            "you opened this page. Review the current policy and make your change again.",
            version=version,
        ),
    )


@page("admin.referral_policy.read", "admin")
def referral_policy() -> tuple[str, int]:
    current = current_referral_policy()
    g.audit.details["version"] = current.version
    form = ReferralPolicyForm(data={"base_version": str(current.version)})
    return _edit_page(form, current.rules)


@page("admin.referral_policy.review", "admin")
def review() -> tuple[str, int]:
    """The change asked for, shown before it is stored; nothing changes yet."""
    form = ReferralPolicyForm()
    rules = rules_from_form(request.form)
    if not form.validate_on_submit():
        return _edit_page(form, rules, 422)
    current = current_referral_policy()
    if form.base_version.data != str(current.version):
        _stale(form, current.version)
        form.base_version.data = str(current.version)
        return _edit_page(form, current.rules, 409)
    changes = rule_changes(current.rules, rules)
    if not changes:
        _error(form, _("Nothing was changed: tick or clear at least one box."))
        return _edit_page(form, rules, 422)
    note = (form.note.data or "").strip()
    g.audit.details.update(base_version=current.version, changes=[c.code for c in changes])
    confirm = ReferralPolicyConfirmForm(
        data={
            "note": note,
            "base_version": str(current.version),
            "rules": json.dumps(rules, sort_keys=True, separators=(",", ":")),
        }
    )
    return render_template(
        "admin/referral_policy_confirm.html",
        **_context(confirm=confirm, changes=changes, note=note, rules=rules, current=current),
    ), 200


@page(UPDATE_ACTION, "admin")
def confirm() -> Response | tuple[str, int]:
    form = ReferralPolicyConfirmForm()
    current = current_referral_policy()
    edit = ReferralPolicyForm(data={"base_version": str(current.version)})
    if not form.validate_on_submit():
        _error(edit, _("The confirmation was incomplete: make your change again."))
        return _edit_page(edit, current.rules, 422)
    if form.base_version.data != str(current.version):
        _stale(edit, current.version)
        return _edit_page(edit, current.rules, 409)
    try:
        rules = validate_referral_rules(json.loads(form.rules.data))
    except (ValueError, Refusal):
        _error(edit, _("The confirmation was incomplete: make your change again."))
        return _edit_page(edit, current.rules, 422)
    changes = rule_changes(current.rules, rules)
    if not changes:
        _error(edit, _("Nothing was changed: tick or clear at least one box."))
        return _edit_page(edit, current.rules, 422)
    note = (form.note.data or "").strip()
    updated = set_referral_policy(actor=g.actor, rules=rules, note=note)
    g.audit.details.update(version=updated.version, note=note, changes=[c.code for c in changes])
    flash(_("Referral policy version %(version)s is in force.", version=updated.version), "success")
    return redirect(url_for("agencies_ui.referral_policy_version", number=updated.version))


@page("admin.referral_policy.read", "admin")
def referral_policy_version(number: str) -> str:
    version = canonical_int(number) or 0
    version = version if version < 2**31 else 0
    stored = db.session.get(ReferralPolicyVersion, version) if version else None
    if stored is None:
        raise Problem(404, "policy_version_not_found", _("No such policy version"))
    g.audit.details["version"] = version
    previous = db.session.scalar(
        select(ReferralPolicyVersion)
        .where(ReferralPolicyVersion.version < version)
        .order_by(ReferralPolicyVersion.version.desc())
        .limit(1)
    )
    rules = json.loads(stored.rules)
    return render_template(
        "admin/referral_policy_version.html",
        **_context(
            stored=stored,
            previous=previous,
            author=policy_authors([version], UPDATE_ACTION).get(version, stored.created_by),
            rules=rules,
            changes=rule_changes(json.loads(previous.rules) if previous else {}, rules),
            current=current_referral_policy(),
        ),
    )
