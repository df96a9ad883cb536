"""The import pages: upload (size-limited), the validation report, confirmation.

Both POSTs carry the CSRF token the UI checks for every unsafe method; the rows confirmed
are those kept server-side with the report, so what is published is what was shown.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField

from exchange.errors import Refusal
from exchange.imports.service import confirm_upload, get_upload, store_upload, upload_plan
from exchange.pki.custodial import custodial_signer
from exchange.records import presentation as words
from exchange.records.pages_forms import choices
from exchange.ui.access import enter_page, page

bp = Blueprint("imports_ui", __name__)
bp.before_request(enter_page)


class UploadForm(FlaskForm):
    sheet = FileField(
        _l("Spreadsheet (CSV or .xlsx)"),
        validators=[FileRequired(_l("Choose a file."))],
        render_kw={"accept": ".csv,.xlsx,text/csv"},
    )
    record_type = SelectField(
        _l("Record type"),
        choices=lambda: choices(words.RECORD_TYPES, _l("Tell from the headings")),
        default="",
    )


class ConfirmForm(FlaskForm):
    pass


def _has_custodial_key() -> bool:
    return custodial_signer(g.user.agency_id) is not None


@bp.route("/import", methods=["GET", "POST"])
@page("import.upload", "liaison")
def upload() -> Any:
    form = UploadForm()
    if not _has_custodial_key():
        g.audit.details["reason"] = "custodial_key_missing"
        return render_template("imports/upload.html", form=None), 403
    if not form.validate_on_submit():
        return render_template("imports/upload.html", form=form), (422 if form.errors else 200)
    limit = int(current_app.config["EXCHANGE_IMPORT_UPLOAD_MAX"])
    data = form.sheet.data.read(limit + 1)
    if len(data) > limit:
        g.audit.details["reason"] = "upload_too_large"
        form.sheet.errors = [
            _(
                "The file is larger than %(size)s KiB; split it and upload each part.",
                size=limit // 1024,
            )
        ]
        return render_template("imports/upload.html", form=form), 413
    try:
        stored = store_upload(
            actor=g.actor,
            user_id=g.user.id,
            filename=form.sheet.data.filename or "upload",
            data=data,
            record_type=form.record_type.data or None,
        )
    except Refusal as refusal:
        g.audit.details["reason"] = refusal.code
        form.sheet.errors = [refusal.detail or refusal.title]
        return render_template("imports/upload.html", form=form), 422
    g.audit.details.update(
        {
            "upload": stored.id,
            "filename": stored.filename,
            "encoding": stored.encoding,
            "rows": stored.row_count,
            "problems": len(upload_plan(stored)["problems"]),
        }
    )
    return redirect(url_for("imports_ui.report", upload_id=stored.id))


@bp.route("/import/<string:upload_id>", methods=["GET"])
@page("import.report", "liaison")
def report(upload_id: str) -> Any:
    stored = get_upload(user_id=g.user.id, upload_id=upload_id)
    g.audit.details["upload"] = stored.id
    return render_template(
        "imports/report.html",
        upload=stored,
        plan=upload_plan(stored),
        form=ConfirmForm(),
        type_label=words.label_of(words.RECORD_TYPES, stored.record_type),
    )


@bp.route("/import/<string:upload_id>/confirm", methods=["POST"])
@page("import.confirm", "liaison")
def confirm(upload_id: str) -> Any:
    stored = get_upload(user_id=g.user.id, upload_id=upload_id, for_update=True)
    g.audit.details["upload"] = stored.id
    result = confirm_upload(
        actor=g.actor,
        upload=stored,
        received_at=g.audit.received_at,
        audit_entry_id=g.request_id,
        clock_skew=timedelta(seconds=current_app.config["EXCHANGE_CLOCK_SKEW_SECONDS"]),
    )
    g.audit.targets.extend(result.targets)
    g.audit.details.update(
        {"created": result.created, "amended": result.amended, "unchanged": result.unchanged}
    )
    flash(
        _(
            "Published: %(created)s new, %(amended)s amended, %(unchanged)s unchanged.",
            created=result.created,
            amended=result.amended,
            unchanged=result.unchanged,
        ),
        "success",
    )
    return redirect(url_for("imports_ui.report", upload_id=stored.id))
