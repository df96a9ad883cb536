"""Administrators' pages: systems, certificates and signing keys.

The system and certificate pages are here; the signing keys' are in ``key_pages`` and are
routed below.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from exchange.agencies.forms import agency_choices, explain
from exchange.agencies.labels import admin_labels
from exchange.agencies.models import System
from exchange.agencies.service import (
    create_system,
    list_agencies,
    list_systems,
    set_standing_purpose,
)
from exchange.clock import utcnow
from exchange.errors import Refusal
from exchange.extensions import db
from exchange.pki import key_pages
from exchange.pki.bundles import default_api_url, log_verifier_key
from exchange.pki.downloads import bundle_zip
from exchange.pki.forms import BundleForm, CsrForm, PurposeForm, RevokeForm, SystemForm
from exchange.pki.overview import EXPIRY_WARNING, certificate_overview, exchange_keys
from exchange.pki.service import (
    find_certificate,
    issue_certificate_bundle,
    issue_certificate_from_csr,
    revoke_certificate,
)
from exchange.pki.vault import load_vault
from exchange.problems import Problem
from exchange.ui.access import enter_page, page
from exchange.ui.filters import serial_hex, to_jst
from exchange.urlnumbers import canonical_int

bp = Blueprint("pki_ui", __name__, url_prefix="/admin")
bp.before_request(enter_page)
bp.context_processor(admin_labels)

# A CSR is a few hundred bytes; anything much larger is not one.
MAX_CSR_BYTES = 64 * 1024


def _system(system_id: str) -> System:
    # Not a number, or beyond the integer column's range (which PostgreSQL would refuse to
    # compare): there is no such row either way.
    number = canonical_int(system_id)
    system = db.session.get(System, number) if number is not None and number < 2**31 else None
    if system is None:
        raise Problem(404, "system_not_found", _("No such system"))
    g.audit.details.update(agency=system.agency_id, system=system.name)
    return system


def _system_form() -> SystemForm:
    form = SystemForm()
    form.agency.choices = agency_choices(list_agencies())
    return form


def _systems_page(form: SystemForm, status: int = 200) -> tuple[str, int]:
    return render_template(
        "admin/systems.html",
        systems=list_systems(),
        overview=certificate_overview(),
        own=exchange_keys(load_vault()),
        warning_days=EXPIRY_WARNING.days,
        form=form,
    ), status


@page("admin.system.list", "admin")
def systems() -> tuple[str, int]:
    form = _system_form()
    if request.args.get("agency"):
        form.agency.data = request.args["agency"]
    return _systems_page(form)


@page("admin.system.create", "admin")
def add_system() -> Response | tuple[str, int]:
    form = _system_form()
    if not form.validate_on_submit():
        return _systems_page(form, 422)
    roles = tuple(form.roles.data or ())
    g.audit.details.update(agency=form.agency.data, system=form.name.data, roles=" ".join(roles))
    try:
        system = create_system(
            actor=g.actor, agency_id=form.agency.data or "", name=form.name.data or "", roles=roles
        )
    except Refusal as problem:
        form.name.errors.append(explain(problem))
        return _systems_page(form, 422)
    flash(
        _("System %(system)s was added. Issue its certificate below.", system=system.name),
        "success",
    )
    return redirect(url_for("pki_ui.system", system_id=system.id))


def _system_page(
    system: System,
    *,
    csr_form: CsrForm | None = None,
    bundle_form: BundleForm | None = None,
    purpose_form: PurposeForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    return render_template(
        "admin/system.html",
        system=system,
        purpose_form=purpose_form or PurposeForm(purpose=system.standing_purpose or ""),
        rows=certificate_overview([system.id]).by_system.get(system.id, []),
        csr_form=csr_form or CsrForm(),
        bundle_form=bundle_form or BundleForm(),
        revoke_form=RevokeForm(),
        warning_days=EXPIRY_WARNING.days,
    ), status


@page("admin.system.read", "admin")
def system(system_id: str) -> tuple[str, int]:
    return _system_page(_system(system_id))


@page("admin.system.purpose", "admin")
def standing_purpose(system_id: str) -> Response | tuple[str, int]:
    target = _system(system_id)
    form = PurposeForm()
    if not form.validate_on_submit():
        return _system_page(target, purpose_form=form, status=422)
    purpose = form.purpose.data or None
    g.audit.details["purpose"] = purpose or "none"
    set_standing_purpose(actor=g.actor, system=target, purpose=purpose)
    flash(_("The standing purpose was saved."), "success")
    return redirect(url_for("pki_ui.system", system_id=target.id))


@page("admin.certificate.issue", "admin")
def issue_from_csr(system_id: str) -> Response | tuple[str, int]:
    target = _system(system_id)
    form = CsrForm()
    g.audit.details["source"] = "csr"
    if not form.validate_on_submit():
        return _system_page(target, csr_form=form, status=422)
    csr_pem = form.csr.data.read(MAX_CSR_BYTES + 1)
    if len(csr_pem) > MAX_CSR_BYTES:
        form.csr.errors.append(_("This file is too large to be a certificate signing request."))
        return _system_page(target, csr_form=form, status=422)
    try:
        certificate = issue_certificate_from_csr(
            actor=g.actor, system=target, csr_pem=csr_pem, valid_days=form.csr_days.data or 1
        )
    except Refusal as problem:
        g.audit.details["refusal"] = problem.code
        form.csr.errors.append(
            _(
                "This file is not a usable certificate signing request (%(reason)s). Ask the "
                "agency for a PEM CSR with a P-256, P-384, Ed25519 or RSA (2048 bits or more) key.",
                reason=problem.detail or problem.code,
            )
        )
        return _system_page(target, csr_form=form, status=422)
    g.audit.details["fingerprint"] = certificate.fingerprint
    flash(
        _(
            "Certificate %(serial)s was issued. Download it and send it to the agency.",
            serial=serial_hex(certificate.serial),
        ),
        "success",
    )
    return redirect(url_for("pki_ui.system", system_id=target.id))


@page("admin.certificate.issue", "admin")
def download_bundle(system_id: str) -> Response | tuple[str, int]:
    target = _system(system_id)
    form = BundleForm()
    g.audit.details["source"] = "bundle"
    if not form.validate_on_submit():
        return _system_page(target, bundle_form=form, status=422)
    certificate, bundle = issue_certificate_bundle(
        actor=g.actor, system=target, valid_days=form.bundle_days.data or 1
    )
    g.audit.details["fingerprint"] = certificate.fingerprint
    created = to_jst(utcnow())
    assert created is not None
    archive = bundle_zip(
        bundle=bundle,
        api_url=default_api_url(),
        log_key=log_verifier_key(),
        matching_key=load_vault().matching_key,
        created_at=created,
    )
    filename = f"{target.agency_id}-{target.name}-{created:%Y%m%d%H%M}.zip"
    return Response(
        archive,
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@page("admin.certificate.read", "admin")
def certificate_pem(fingerprint: str) -> Response:
    certificate = find_certificate(fingerprint[:64])
    g.audit.details["fingerprint"] = certificate.fingerprint
    system = certificate.system
    filename = f"{system.agency_id}-{system.name}-{certificate.serial[:16]}.pem"
    return Response(
        certificate.pem,
        mimetype="application/x-pem-file",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@page("admin.certificate.revoke", "admin")
def revoke(fingerprint: str) -> Response | tuple[str, int]:
    certificate = find_certificate(fingerprint[:64])
    system = certificate.system
    form = RevokeForm()
    g.audit.details.update(
        fingerprint=certificate.fingerprint, agency=system.agency_id, system=system.name
    )
    if not form.validate_on_submit():
        return _system_page(system, status=422)
    g.audit.details["reason"] = form.reason.data
    revoke_certificate(actor=g.actor, fingerprint=certificate.fingerprint, reason=form.reason.data)
    flash(
        _(
            "Certificate %(serial)s was revoked. %(system)s is refused from its next request.",
            serial=serial_hex(certificate.serial),
            system=f"{system.agency_id}/{system.name}",
        ),
        "success",
    )
    return redirect(url_for("pki_ui.system", system_id=system.id))


bp.add_url_rule("/systems", view_func=systems, methods=["GET"])
bp.add_url_rule("/systems", view_func=add_system, methods=["POST"])
bp.add_url_rule("/systems/<system_id>", view_func=system, methods=["GET"])
bp.add_url_rule("/systems/<system_id>/purpose", view_func=standing_purpose, methods=["POST"])
bp.add_url_rule("/systems/<system_id>/csr", view_func=issue_from_csr, methods=["POST"])
bp.add_url_rule("/systems/<system_id>/bundle", view_func=download_bundle, methods=["POST"])
bp.add_url_rule("/certificates/<fingerprint>.pem", view_func=certificate_pem, methods=["GET"])
bp.add_url_rule("/certificates/<fingerprint>/revoke", view_func=revoke, methods=["POST"])

bp.add_url_rule("/keys", view_func=key_pages.keys, methods=["GET"])
bp.add_url_rule("/keys", view_func=key_pages.register, methods=["POST"])
bp.add_url_rule("/keys/<kid>", view_func=key_pages.key, methods=["GET"])
bp.add_url_rule("/keys/<kid>/retire", view_func=key_pages.retire, methods=["POST"])
bp.add_url_rule("/keys/<kid>/revoke", view_func=key_pages.revoke_key, methods=["POST"])
