"""The referral pages: inbox and outbox by tab, the send form, and one referral with its
whole signed history and the receiver's signed actions."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from sqlalchemy import select
from wtforms import DateField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from exchange.agencies.models import Agency
from exchange.agencies.policy import PURPOSES
from exchange.clock import utcnow
from exchange.errors import Kind, Refusal
from exchange.extensions import db
from exchange.problems import STATUS_OF_KIND
from exchange.records import presentation as words
from exchange.records.pages_forms import choices, purpose_choices
from exchange.records.reading import SearchQuery, search_records
from exchange.records.views import audit_search, result_row
from exchange.referrals import reading
from exchange.referrals.labels import (
    BOX_LABELS,
    KIND_LABELS,
    OUTCOME_LABELS,
    STATE_LABELS,
    TAB_LABELS,
)
from exchange.referrals.pages_service import (
    Upload,
    assignable_people,
    send_from_page,
    step_from_page,
)
from exchange.referrals.service import ReferralContext
from exchange.ui.access import enter_page, page
from schemas import RECORD_TYPES, is_record_id
from schemas.referral import ATTACHMENT_MAX_BYTES, ATTACHMENT_MEDIA_TYPES, ATTACHMENTS_MAX

bp = Blueprint("referrals_ui", __name__)
bp.before_request(enter_page)

_MEDIA_BY_SUFFIX = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".csv": "text/csv",
    ".txt": "text/plain",
}


# Search results shown in the send form, and record ids ticked among them, at most.
FIND_LIMIT = 20


def _record_ids(text: str | None) -> list[str]:
    return list(dict.fromkeys(line.strip().lower() for line in (text or "").split() if line))


def _check_ids(form: FlaskForm, field: TextAreaField) -> None:
    wrong = [value for value in _record_ids(field.data) if not is_record_id(value)]
    if wrong:
        raise ValidationError(_l("Not a record id: %(value)s", value=wrong[0][:40]))


class SendForm(FlaskForm):
    receivers = SelectMultipleField(
        _l("Receiving agencies"), validators=[DataRequired(_l("Choose at least one agency."))]
    )
    kind = SelectField(
        _l("Kind of referral"), choices=[SelectChoice(k, label) for k, label in KIND_LABELS.items()]
    )
    records = TextAreaField(
        _l("Records (one id per line)"),
        validators=[DataRequired(_l("Name at least one record.")), _check_ids],
    )
    requested_action = TextAreaField(
        _l("Requested action"), validators=[DataRequired(_l("Say what you ask.")), Length(max=2000)]
    )
    due = DateField(_l("Due date"), validators=[DataRequired(_l("Choose a due date."))])
    text = TextAreaField(_l("Message"), validators=[Optional(), Length(max=10_000)])
    attachments = MultipleFileField(
        _l("Attachments (PDF, PNG, JPEG, CSV or text; up to 5 files of 2 MiB)"),
        render_kw={"accept": ",".join(_MEDIA_BY_SUFFIX)},
    )
    # Finding records to add: the search of the search page, with its purpose.
    find_purpose = SelectField(_l("Purpose of the search"), choices=purpose_choices, default="")
    find_q = StringField(_l("Name or alias"), validators=[Optional(), Length(max=200)])
    find_type = SelectField(
        _l("Record type"), choices=lambda: choices(words.RECORD_TYPES), default=""
    )


class AcknowledgeForm(FlaskForm):
    pass


class AssignForm(FlaskForm):
    assignee = SelectField(_l("Assign to"), validators=[DataRequired()])


class CloseForm(FlaskForm):
    outcome = SelectField(
        _l("Outcome"), choices=[SelectChoice(k, label) for k, label in OUTCOME_LABELS.items()]
    )
    reason = TextAreaField(_l("Reason (required for no action)"), validators=[Optional()])
    follow_up = TextAreaField(
        _l("Follow-up records (one id per line)"), validators=[Optional(), _check_ids]
    )
    note = TextAreaField(_l("Note for the sender"), validators=[Optional(), Length(max=2000)])

    def validate_reason(self, field: TextAreaField) -> None:
        if self.outcome.data == "no_action" and not (field.data or "").strip():
            raise ValidationError(_l("Give the reason why no action was taken."))


def _context() -> ReferralContext:
    return ReferralContext(
        actor=g.actor,
        received_at=g.audit.received_at,
        audit_entry_id=g.request_id,
        clock_skew=timedelta(seconds=current_app.config["EXCHANGE_CLOCK_SKEW_SECONDS"]),
        details=g.audit.details,
    )


def _agencies() -> dict[str, Agency]:
    return {a.id: a for a in db.session.scalars(select(Agency).order_by(Agency.kind, Agency.id))}


def agency_name(agency: Agency | None, fallback: str = "") -> str:
    if agency is None:
        return fallback
    return agency.name_en if str(get_locale()) == "en" else agency.name_ja


def referral_counts() -> dict[str, int]:
    """The counts the header shows a liaison officer (template global)."""
    user = getattr(g, "user", None)
    actor = getattr(g, "actor", None)
    if user is None or actor is None or "liaison" not in user.role_set:
        return {}
    return reading.referral_counts(actor=actor, now=utcnow())


@bp.app_template_global("referral_counts")
def _referral_counts_global() -> dict[str, int]:
    return referral_counts()


@bp.route("/referrals", methods=["GET"])
@page("referral.list", "liaison")
def index() -> Any:
    box = request.args.get("box", "inbox")
    tab = request.args.get("tab", "open")
    kind = request.args.get("kind") or None
    agency = request.args.get("agency") or None
    if box not in reading.BOXES or tab not in reading.TABS or (kind and kind not in KIND_LABELS):
        box, tab, kind = "inbox", "open", None
    g.audit.details.update({"box": box, "tab": tab})
    views = reading.list_referrals(
        actor=g.actor, box=box, tab=tab, now=g.audit.received_at, kind=kind, agency=agency
    )
    return render_template(
        "referrals/index.html",
        views=views,
        box=box,
        tab=tab,
        kind=kind,
        agency=agency,
        agencies=_agencies(),
        counts=reading.referral_counts(actor=g.actor, now=g.audit.received_at),
        boxes=BOX_LABELS,
        tabs=TAB_LABELS,
        kinds=KIND_LABELS,
        states=STATE_LABELS,
        agency_name=agency_name,
    )


def _picked() -> list[str]:
    """Record ids ticked among search results, in the order shown."""
    return [
        value.lower()
        for value in dict.fromkeys(request.form.getlist("picked"))
        if is_record_id(value)
    ][:FIND_LIMIT]


def _with_picked(form: SendForm) -> list[str]:
    """The typed ids and the ticked ones, each once, typed first; the field shows them all."""
    records = list(dict.fromkeys([*_record_ids(form.records.data), *_picked()]))
    form.records.data = "\n".join(records)
    return records


def _send_form() -> SendForm:
    form = SendForm()
    agencies = _agencies()
    form.receivers.choices = [
        SelectChoice(a.id, f"{agency_name(a)} ({a.id})")
        for a in agencies.values()
        if a.id != g.actor.agency_id
    ]
    if request.method == "GET" and request.args.get("record"):
        form.records.data = "\n".join(
            value for value in request.args.getlist("record") if is_record_id(value)
        )
    return form


@bp.route("/referrals/new", methods=["GET"])
@page("referral.form", "liaison")
def new() -> Any:
    return render_template("referrals/new.html", form=_send_form())


def _uploads(form: SendForm) -> list[Upload] | None:
    uploads = []
    for storage in form.attachments.data or []:
        if not storage or not storage.filename:
            continue
        name = storage.filename
        media_type = (
            _MEDIA_BY_SUFFIX.get("." + name.rsplit(".", 1)[-1].lower()) if "." in name else None
        )
        content = storage.read(ATTACHMENT_MAX_BYTES + 1)
        if (
            media_type not in ATTACHMENT_MEDIA_TYPES
            or len(content) > ATTACHMENT_MAX_BYTES
            or not content
        ):
            form.attachments.errors = [
                _(
                    "%(name)s: only PDF, PNG, JPEG, CSV or text files of up to 2 MiB.",
                    name=name[:100],
                )
            ]
            return None
        uploads.append(Upload(name[:200], media_type or "", content))
    if len(uploads) > ATTACHMENTS_MAX:
        form.attachments.errors = [_("At most %(count)s files.", count=ATTACHMENTS_MAX)]
        return None
    return uploads


@bp.route("/referrals/new", methods=["POST"])
@page("referral.send", "liaison")
def send() -> Any:
    form = _send_form()
    records = _with_picked(form)
    if not form.validate_on_submit():
        return render_template("referrals/new.html", form=form), 422
    uploads = _uploads(form)
    if uploads is None:
        return render_template("referrals/new.html", form=form), 422
    try:
        referral = send_from_page(
            context=_context(),
            receivers=form.receivers.data,
            records=records,
            kind=form.kind.data,
            requested_action=form.requested_action.data.strip(),
            due=form.due.data,
            text=(form.text.data or "").strip() or None,
            uploads=uploads,
        )
    except Refusal as refusal:
        g.audit.details["reason"] = refusal.code
        status = STATUS_OF_KIND[refusal.kind]
        return render_template("referrals/new.html", form=form, refusal=refusal), status
    flash(_("The referral was signed and sent."), "success")
    return redirect(url_for("referrals_ui.referral", referral_id=referral.id))


@bp.route("/referrals/new/find", methods=["POST"])
@page("record.search", "liaison")
def find() -> Any:
    """The send form again, with the ticked records added and, when words or a type are
    given, the records found: the search page's search, for a stated purpose, audited as
    a search. Without JavaScript a button of the form brings it here and back."""
    form = _send_form()
    form.records.errors = []
    records = _with_picked(form)
    context: dict[str, Any] = {
        "form": form,
        "results": None,
        "added": records,
        "agencies": _agencies(),
        "agency_name": agency_name,
    }
    query = (form.find_q.data or "").strip()
    record_type = form.find_type.data or ""
    if not query and not record_type:
        g.audit.action = "referral.form"
        return render_template("referrals/new.html", **context)
    g.audit.details["for"] = "referral"
    purpose = form.find_purpose.data or ""
    errors = []
    if purpose not in PURPOSES:
        errors.append(
            _("Choose the purpose of this look-up: results are shown only for a stated purpose.")
        )
    if not form.find_q.validate(form) or record_type not in ("", *RECORD_TYPES):
        errors.append(_("Search with up to 200 characters and a record type from the list."))
    if errors:
        g.audit.details["reason"] = "purpose_required" if purpose not in PURPOSES else "invalid"
        form.find_purpose.errors = errors
        return render_template("referrals/new.html", **context), 422
    given = {k: v for k, v in (("q", query), ("type", record_type)) if v}
    audit_search(purpose, given)
    found = search_records(
        actor=g.actor,
        query=SearchQuery(q=query or None, type=record_type or None, limit=FIND_LIMIT),
    )
    results = []
    for view in found.items:
        envelope = json.loads(view.version.canonical)
        g.audit.targets.append((view.record_id, view.version.version))
        results.append({"id": view.record_id, **result_row(view, envelope, purpose)})
    context["results"] = results
    return render_template("referrals/new.html", **context)


def _people() -> list[SelectChoice]:
    """The liaison officers of the agency, as the signed assignment names them."""
    named = [f"{u.display_name} ({u.username})" for u in assignable_people(g.actor.agency_id)]
    return [SelectChoice(name, name) for name in named]


def _referral_page(view: reading.ReferralView, refusal: Refusal | None = None, **forms: Any) -> str:
    agencies = _agencies()
    mine = next((p for p in view.parts if p.agency_id == g.actor.agency_id), None)
    assign = forms.get("assign") or AssignForm(prefix="assign")
    assign.assignee.choices = _people()
    return render_template(
        "referrals/referral.html",
        view=view,
        document=view.document,
        history=reading.referral_history(view),
        mine=mine,
        agencies=agencies,
        agency_name=agency_name,
        acknowledge_form=forms.get("acknowledge") or AcknowledgeForm(prefix="ack"),
        assign_form=assign,
        close_form=forms.get("close") or CloseForm(prefix="close"),
        kinds=KIND_LABELS,
        states=STATE_LABELS,
        outcomes=OUTCOME_LABELS,
        refusal=refusal,
    )


@bp.route("/referrals/<string:referral_id>", methods=["GET"])
@page("referral.read", "liaison")
def referral(referral_id: str) -> Any:
    g.audit.details["referral"] = referral_id[:36]
    view = reading.get_referral(actor=g.actor, referral_id=referral_id, now=g.audit.received_at)
    return _referral_page(view)


@bp.route("/referrals/<string:referral_id>/attachments/<string:sha256>", methods=["GET"])
@page("referral.attachment", "liaison")
def attachment(referral_id: str, sha256: str) -> Any:
    g.audit.details.update({"referral": referral_id[:36], "attachment": sha256[:64]})
    view = reading.get_referral(actor=g.actor, referral_id=referral_id, now=g.audit.received_at)
    declared, content = reading.referral_attachment(view, sha256[:64])
    name = declared["name"].replace('"', "")
    return Response(
        content,
        content_type=declared["media_type"],
        headers={
            # Downloaded, never shown inline: what an agency sent is not run in the page.
            "Content-Disposition": f"attachment; filename*=UTF-8''{_quoted(name)}",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _quoted(name: str) -> str:
    return quote(name, safe="")


def _step(referral_id: str, step: str, **fields: Any) -> Any:
    try:
        step_from_page(context=_context(), referral_id=referral_id, step=step, **fields)
    except Refusal as refusal:
        g.audit.details["reason"] = refusal.code
        if refusal.kind is Kind.NOT_FOUND:
            raise
        view = reading.get_referral(actor=g.actor, referral_id=referral_id, now=g.audit.received_at)
        return _referral_page(view, refusal), STATUS_OF_KIND[refusal.kind]
    flash(_("Signed and recorded."), "success")
    return redirect(url_for("referrals_ui.referral", referral_id=referral_id))


@bp.route("/referrals/<string:referral_id>/acknowledge", methods=["POST"])
@page("referral.acknowledge", "liaison")
def acknowledge(referral_id: str) -> Any:
    g.audit.details["referral"] = referral_id[:36]
    return _step(referral_id, "acknowledged")


@bp.route("/referrals/<string:referral_id>/assign", methods=["POST"])
@page("referral.assign", "liaison")
def assign(referral_id: str) -> Any:
    g.audit.details["referral"] = referral_id[:36]
    form = AssignForm(prefix="assign")
    form.assignee.choices = _people()
    if not form.validate_on_submit():
        view = reading.get_referral(actor=g.actor, referral_id=referral_id, now=g.audit.received_at)
        return _referral_page(view, assign=form), 422
    return _step(referral_id, "assigned", assignee=form.assignee.data)


@bp.route("/referrals/<string:referral_id>/close", methods=["POST"])
@page("referral.close", "liaison")
def close(referral_id: str) -> Any:
    g.audit.details["referral"] = referral_id[:36]
    form = CloseForm(prefix="close")
    if not form.validate_on_submit():
        view = reading.get_referral(actor=g.actor, referral_id=referral_id, now=g.audit.received_at)
        return _referral_page(view, close=form), 422
    return _step(
        referral_id,
        "closed",
        outcome=form.outcome.data,
        reason=(form.reason.data or "").strip() or None,
        note=(form.note.data or "").strip() or None,
        follow_up=_record_ids(form.follow_up.data),
    )
