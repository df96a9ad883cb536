"""The sharing policy as an editable matrix: record types × agency kinds, versioned."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from exchange.agencies.forms import PolicyForm
from exchange.agencies.models import AGENCY_KINDS, PolicyVersion
from exchange.agencies.policy import current_policy, set_policy
from exchange.extensions import db
from exchange.problems import Problem
from exchange.trail.models import AuditEntry, AuditLeaf
from exchange.ui.access import page
from exchange.urlnumbers import canonical_int
from schemas import RECORD_TYPES

Rules = Mapping[str, Mapping[str, Sequence[str]]]
VERBS = ("publish", "read")
# How many versions the history lists; older ones stay reachable by their number.
HISTORY_LENGTH = 50


@dataclass(frozen=True)
class Change:
    record_type: str
    verb: str
    kind: str
    granted: bool


def cell_name(record_type: str, verb: str, kind: str) -> str:
    """The matrix checkbox of one permission."""
    return f"{verb}.{record_type}.{kind}"


def grid_from_form(
    form: Mapping[str, str],
    outer: Sequence[str],
    middle: Sequence[str],
    cell: Callable[[str, str, str], str],
) -> dict[str, dict[str, list[str]]]:
    """Rules from a grid of checkboxes: ``outer`` → ``middle`` → the agency kinds ticked.

    Both policies have this shape: record type → verb → kinds for sharing, referral kind →
    sender kind → receiver kinds for referrals.
    """
    return {
        o: {m: [k for k in AGENCY_KINDS if form.get(cell(o, m, k))] for m in middle} for o in outer
    }


def grid_changes(
    before: Rules, after: Rules, outer: Sequence[str], middle: Sequence[str]
) -> Iterator[tuple[str, str, str, bool]]:
    """Each (outer, middle, kind, granted) that ``after`` grants or withdraws against ``before``."""
    for o in outer:
        for m in middle:
            old = set(before.get(o, {}).get(m, ()))
            new = set(after.get(o, {}).get(m, ()))
            for kind in AGENCY_KINDS:
                if (kind in new) != (kind in old):
                    yield o, m, kind, kind in new


def rules_from_form(form: Mapping[str, str]) -> dict[str, dict[str, list[str]]]:
    return grid_from_form(form, RECORD_TYPES, VERBS, cell_name)


def policy_changes(before: Rules, after: Rules) -> list[Change]:
    """Each permission one version grants or withdraws compared with the one before."""
    return [Change(*change) for change in grid_changes(before, after, RECORD_TYPES, VERBS)]


def policy_authors(versions: Sequence[int], action: str = "admin.policy.update") -> dict[int, str]:
    """Who stored each version through these pages, as the audit log has it.

    A policy version records only the acting agency (or console operator); the person is
    in the audit entry of the request that stored it.
    """
    wanted = set(versions)
    authors: dict[int, str] = {}
    rows = db.session.execute(
        select(AuditEntry.canonical)
        .join(AuditLeaf, AuditLeaf.entry_seq == AuditEntry.seq)
        .where(AuditLeaf.action == action, AuditLeaf.status < 400)
    ).scalars()
    for canonical in rows:
        entry = json.loads(canonical)
        version = entry.get("details", {}).get("version")
        user = entry.get("actor", {}).get("user")
        if version in wanted and user:
            authors[int(version)] = str(user)
    return authors


def _history() -> list[PolicyVersion]:
    return list(
        db.session.scalars(
            select(PolicyVersion).order_by(PolicyVersion.version.desc()).limit(HISTORY_LENGTH)
        )
    )


def _policy_page(form: PolicyForm, rules: Rules, status: int = 200) -> tuple[str, int]:
    history = _history()
    return render_template(
        "admin/policy.html",
        form=form,
        rules=rules,
        current=current_policy(),
        history=history,
        authors=policy_authors([v.version for v in history]),
        record_types=RECORD_TYPES,
        kinds=AGENCY_KINDS,
        verbs=VERBS,
        cell_name=cell_name,
    ), status


@page("admin.policy.read", "admin")
def policy() -> tuple[str, int]:
    current = current_policy()
    g.audit.details["version"] = current.version
    form = PolicyForm(data={"base_version": str(current.version)})
    return _policy_page(form, current.rules)


@page("admin.policy.update", "admin")
def update() -> Response | tuple[str, int]:
    form = PolicyForm()
    rules = rules_from_form(request.form)
    if not form.validate_on_submit():
        return _policy_page(form, rules, 422)
    current = current_policy()
    if form.base_version.data != str(current.version):
        # Someone stored another version since this form was loaded: show theirs first.
        form.note.errors.append(
            _(
                "The policy was changed by someone else (now version %(version)s) after you "
                "opened this page. Review the current policy and make your change again.",
                version=current.version,
            )
        )
        form.base_version.data = str(current.version)
        return _policy_page(form, current.rules, 409)
    changes = policy_changes(current.rules, rules)
    if not changes:
        form.note.errors.append(_("Nothing was changed: tick or clear at least one box."))
        return _policy_page(form, rules, 422)
    note = (form.note.data or "").strip()
    updated = set_policy(actor=g.actor, rules=rules, note=note)
    g.audit.details.update(
        version=updated.version,
        note=note,
        changes=[f"{'+' if c.granted else '-'}{c.verb}:{c.record_type}:{c.kind}" for c in changes],
    )
    flash(_("Policy version %(version)s is in force.", version=updated.version), "success")
    return redirect(url_for("agencies_ui.policy_version", number=updated.version))


@page("admin.policy.read", "admin")
def policy_version(number: str) -> str:
    version = canonical_int(number) or 0
    version = version if version < 2**31 else 0
    stored = db.session.get(PolicyVersion, version) if version else None
    if stored is None:
        raise Problem(404, "policy_version_not_found", _("No such policy version"))
    g.audit.details["version"] = version
    previous = db.session.scalar(
        select(PolicyVersion)
        .where(PolicyVersion.version < version)
        .order_by(PolicyVersion.version.desc())
        .limit(1)
    )
    rules = json.loads(stored.rules)
    changes = policy_changes(json.loads(previous.rules) if previous else {}, rules)
    return render_template(
        "admin/policy_version.html",
        stored=stored,
        previous=previous,
        author=policy_authors([version]).get(version, stored.created_by),
        rules=rules,
        changes=changes,
        current=current_policy(),
        record_types=RECORD_TYPES,
        kinds=AGENCY_KINDS,
        verbs=VERBS,
    )
