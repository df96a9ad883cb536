"""Administrators' pages: agencies, users, the sharing policy and the referral policy.

The agency pages are here; the users', the policy's and the referral policy's are in
``user_pages``, ``policy_pages`` and ``exchange.referrals.policy_pages`` and are routed
below, so the blueprint is the one list of admin URLs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from exchange.agencies import policy_pages, user_pages
from exchange.agencies.forms import AgencyForm, agency_choices, explain, refused_field
from exchange.agencies.labels import admin_labels
from exchange.agencies.models import Agency
from exchange.agencies.service import create_agency, get_agency, list_agencies, list_systems
from exchange.auth.service import list_users
from exchange.errors import Refusal
from exchange.pki.service import agency_keys
from exchange.problems import Problem
from exchange.referrals import policy_pages as referral_policy_pages
from exchange.ui.access import enter_page, page

bp = Blueprint("agencies_ui", __name__, url_prefix="/admin")
bp.before_request(enter_page)
bp.context_processor(admin_labels)


@dataclass
class AgencyNode:
    agency: Agency
    children: list[AgencyNode] = field(default_factory=list)


def agency_tree(agencies: list[Agency]) -> list[AgencyNode]:
    """Agencies under their parents (a labour bureau under its ministry), roots first."""
    nodes = {a.id: AgencyNode(a) for a in agencies}
    roots: list[AgencyNode] = []
    for node in nodes.values():
        parent = nodes.get(node.agency.parent_id or "")
        (parent.children if parent is not None else roots).append(node)
    return roots


def _agency_form() -> AgencyForm:
    form = AgencyForm()
    form.parent.choices = agency_choices(list_agencies(), blank=_("None (a top-level agency)"))
    return form


def _agencies_page(form: AgencyForm, status: int = 200) -> tuple[str, int]:
    agencies = list_agencies()
    return render_template(
        "admin/agencies.html", tree=agency_tree(agencies), count=len(agencies), form=form
    ), status


@page("admin.agency.list", "admin")
def agencies() -> tuple[str, int]:
    return _agencies_page(_agency_form())


@page("admin.agency.create", "admin")
def add_agency() -> Response | tuple[str, int]:
    form = _agency_form()
    if not form.validate_on_submit():
        return _agencies_page(form, 422)
    agency_id = form.agency_id.data or ""
    g.audit.details["agency"] = agency_id
    try:
        create_agency(
            actor=g.actor,
            agency_id=agency_id,
            kind=form.kind.data or "",
            name_ja=(form.name_ja.data or "").strip(),
            name_en=(form.name_en.data or "").strip(),
            parent_id=form.parent.data or None,
        )
    except Refusal as problem:
        target = {"agency_exists": "agency_id"}.get(problem.code) or refused_field(problem)
        getattr(form, target or "agency_id").errors.append(explain(problem))
        status = Problem.of(problem).status
        return _agencies_page(form, status if status < 500 else 422)
    if form.parent.data:
        g.audit.details["parent"] = form.parent.data
    flash(_("Agency %(agency)s was created.", agency=agency_id), "success")
    return redirect(url_for("agencies_ui.agency", agency_id=agency_id))


@page("admin.agency.read", "admin")
def agency(agency_id: str) -> str:
    found = get_agency(agency_id[:32])
    g.audit.details["agency"] = found.id
    everyone = list_agencies()
    return render_template(
        "admin/agency.html",
        agency=found,
        parent=next((a for a in everyone if a.id == found.parent_id), None),
        children=[a for a in everyone if a.parent_id == found.id],
        systems=list_systems(found.id),
        users=list_users(found.id),
        keys=agency_keys(found.id),
    )


bp.add_url_rule("/agencies", view_func=agencies, methods=["GET"])
bp.add_url_rule("/agencies", view_func=add_agency, methods=["POST"])
bp.add_url_rule("/agencies/<agency_id>", view_func=agency, methods=["GET"])

bp.add_url_rule("/users", view_func=user_pages.users, methods=["GET"])
bp.add_url_rule("/users/new", view_func=user_pages.new_user, methods=["GET"])
bp.add_url_rule("/users/new", view_func=user_pages.create_user_page, methods=["POST"])
bp.add_url_rule("/users/<username>", view_func=user_pages.user, methods=["GET"])
bp.add_url_rule("/users/<username>/roles", view_func=user_pages.change_roles, methods=["POST"])
bp.add_url_rule(
    "/users/<username>/second-factor/reset",
    view_func=user_pages.reset_second_factor_page,
    methods=["POST"],
)
bp.add_url_rule("/users/<username>/unlock", view_func=user_pages.unlock, methods=["POST"])
bp.add_url_rule("/users/<username>/disable", view_func=user_pages.disable, methods=["POST"])
bp.add_url_rule("/users/<username>/enable", view_func=user_pages.enable, methods=["POST"])

bp.add_url_rule("/policy", view_func=policy_pages.policy, methods=["GET"])
bp.add_url_rule("/policy", view_func=policy_pages.update, methods=["POST"])
bp.add_url_rule("/policy/versions/<number>", view_func=policy_pages.policy_version, methods=["GET"])

bp.add_url_rule(
    "/referral-policy", view_func=referral_policy_pages.referral_policy, methods=["GET"]
)
bp.add_url_rule("/referral-policy", view_func=referral_policy_pages.review, methods=["POST"])
bp.add_url_rule(
    "/referral-policy/confirm", view_func=referral_policy_pages.confirm, methods=["POST"]
)
bp.add_url_rule(
    "/referral-policy/versions/<number>",
    view_func=referral_policy_pages.referral_policy_version,
    methods=["GET"],
)
