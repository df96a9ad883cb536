"""The notice pages: list by state, drafting, the notice with its signed history and the
step its reader may take (submit, approve or reject, dispatch for MOFA, record the answer).

Every action is signed with the agency's custodial key and names the signed-in person;
the service checks it exactly as it checks a document an agency system signs.
"""

from __future__ import annotations

import json
from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response as WerkzeugResponse

from exchange.clock import utcnow, uuid7
from exchange.notices import documents, service
from exchange.notices import reading as notice_reading
from exchange.notices.forms import (
    AnswerForm,
    CountryForm,
    DispatchForm,
    DraftForm,
    RejectionForm,
    StepForm,
    stripped,
)
from exchange.notices.handling import notes_refusal, request_context
from exchange.notices.labels import ACTIONS_REPORTED, STATE_LABELS, STEP_LABELS
from exchange.notices.models import EDITABLE_STATES, NOTICE_STATES, SENT_STATES, Notice
from exchange.notices.package import fact_text, package_document, package_pdf
from exchange.records import presentation as words
from exchange.records import reading
from exchange.records.country_names import country_name_in
from exchange.ui.access import enter_page, page
from schemas.notice import FACT_FIELDS

bp = Blueprint("notices_ui", __name__)
bp.before_request(enter_page)

ROLES = ("liaison", "approver")
BROKERS_SHOWN = 100


def _text(value: Any) -> str:
    """Form text as signed: line breaks as the browser sends them (CRLF) become LF."""
    return stripped(value).replace("\r\n", "\n").replace("\r", "\n")


@bp.route("/notices", methods=["GET"])
@page("notice.list", *ROLES)
@notes_refusal
def index() -> str:
    chosen = request.args.get("state", "")
    states = (chosen,) if chosen in NOTICE_STATES else ()
    notices = notice_reading.list_notices(actor=g.actor, states=states)
    return render_template(
        "notices/index.html",
        notices=notices,
        chosen=chosen if states else "",
        states=NOTICE_STATES,
        state_labels=STATE_LABELS,
        country_name=_country_name,
        may_draft="liaison" in g.user.role_set,
    )


def _country_name(code: str) -> str:
    language = "ja" if str(get_locale()) == "ja" else "en"
    return country_name_in(language, code) or code


def _broker_options(country: str) -> list[tuple[str, str]]:
    """The broker records of ``country`` the agency may read, newest first."""
    found = reading.search_records(
        actor=g.actor,
        query=reading.SearchQuery(type="broker", country=country, limit=BROKERS_SHOWN),
    )
    options = []
    for view in found.items:
        record = json.loads(view.version.canonical)
        payload = record["payload"]
        if payload.get("country") != country or record["status"] != "active":
            continue
        g.audit.targets.append((record["id"], record["version"]))
        latin = payload.get("name_latin")
        label = payload["name"] + (f" ({latin})" if latin and latin != payload["name"] else "")
        category = words.label_of(words.BROKER_CATEGORIES, payload.get("category"))
        options.append((record["id"], f"{label} — {category} — {record['publisher']}"))
    return options


def _draft_page(
    form: DraftForm, country: str, notice: Notice | None = None, status: int = 200
) -> tuple[str, int]:
    return render_template(
        "notices/draft.html",
        form=form,
        country=country,
        country_name=_country_name(country),
        notice=notice,
    ), status


@bp.route("/notices/new", methods=["GET"])
@page("notice.form", "liaison")
@notes_refusal
def new() -> str | tuple[str, int]:
    chooser = CountryForm(request.args)
    if not request.args.get("country") or not chooser.validate():
        return render_template("notices/country.html", form=chooser), (
            422 if request.args.get("country") else 200
        )
    country = chooser.country.data
    g.audit.details["country"] = country
    form = DraftForm()
    form.set_brokers(_broker_options(country))
    return _draft_page(form, country)


def _sign_draft(
    form: DraftForm, country: str, notice_id: str, version: int
) -> tuple[service.Signed, service.NoticeContext]:
    """The draft as signed with the agency's custodial key, and the context it is sent in."""
    signer = documents.signer_for(g.actor.agency_id)
    g.audit.details["custodial_kid"] = signer.kid
    chosen = [(record_id, None) for record_id in form.brokers.data or ()]
    document = documents.notice_document(
        notice_id=notice_id,
        version=version,
        actor=g.actor,
        country=country,
        brokers=documents.quoted_brokers(g.actor, chosen, form.fields.data or ()),
        request_ja=_text(form.request_ja.data),
        request_en=_text(form.request_en.data),
        at=utcnow(),
    )
    return documents.signed_notice(document, signer), documents.custodial_context(
        request_context(), signer
    )


@bp.route("/notices/new", methods=["POST"])
@page("notice.draft", "liaison")
@notes_refusal
def create() -> WerkzeugResponse | tuple[str, int]:
    chooser = CountryForm(request.args)
    if not chooser.validate():
        return render_template("notices/country.html", form=chooser), 422
    country = chooser.country.data
    form = DraftForm()
    form.set_brokers(_broker_options(country))
    if not form.validate_on_submit():
        return _draft_page(form, country, status=422)
    signed, context = _sign_draft(form, country, uuid7(), 1)
    notice = service.draft_notice(context=context, submitted=signed)
    flash(_("The draft was signed and saved."), "success")
    return redirect(url_for("notices_ui.show", notice_id=notice.id))


@bp.route("/notices/<string:notice_id>/edit", methods=["GET", "POST"])
@page("notice.edit", "liaison")
@notes_refusal
def edit(notice_id: str) -> WerkzeugResponse | tuple[str, int]:
    if request.method == "GET":
        # Only the form, filled in with the current version: nothing is signed yet.
        g.audit.action = "notice.form"
    notice = notice_reading.get_notice(
        actor=g.actor, notice_id=notice_id, for_update=request.method == "POST"
    )
    g.audit.details["notice"] = notice.id
    if notice.state not in EDITABLE_STATES:
        raise service.locked_refusal(notice)
    current = json.loads(notice_reading.current_version(notice).canonical)
    form = DraftForm(
        data={
            "brokers": [b["id"] for b in current["brokers"]],
            "fields": sorted({name for b in current["brokers"] for name in b["facts"]}),
            "request_ja": current["request"]["ja"],
            "request_en": current["request"]["en"],
        }
        if request.method == "GET"
        else None
    )
    form.set_brokers(_broker_options(notice.country))
    if not form.validate_on_submit():
        return _draft_page(form, notice.country, notice, 422 if form.errors else 200)
    signed, context = _sign_draft(form, notice.country, notice.id, notice.version + 1)
    service.edit_notice(context=context, notice_id=notice.id, submitted=signed)
    flash(_("The revised draft was signed and saved."), "success")
    return redirect(url_for("notices_ui.show", notice_id=notice.id))


def _may(notice: Notice) -> dict[str, bool]:
    """Which step forms the reader is shown; the service decides in any case."""
    roles = g.user.role_set
    own = g.actor.agency_id == notice.agency_id
    mofa = g.actor.agency_kind == notice_reading.MOFA_KIND
    return {
        "edit": own and "liaison" in roles and notice.state in EDITABLE_STATES,
        "submit": own and "liaison" in roles and notice.state in EDITABLE_STATES,
        "approve": own and "approver" in roles and notice.state == "pending",
        "dispatch": mofa and notice.state == "approved",
        "answer": (own or mofa) and notice.state in SENT_STATES,
        "download": notice.state in SENT_STATES,
    }


@bp.route("/notices/<string:notice_id>", methods=["GET"])
@page("notice.read", *ROLES)
@notes_refusal
def show(notice_id: str) -> str:
    notice = notice_reading.get_notice(actor=g.actor, notice_id=notice_id)
    g.audit.details["notice"] = notice.id
    return _notice_page(notice)


def _notice_page(notice: Notice, **forms: Any) -> str:
    history = notice_reading.signed_history(notice)
    current = history["versions"][-1]["notice"]
    return render_template(
        "notices/notice.html",
        notice=notice,
        history=history,
        current=current,
        may=_may(notice),
        state_label=STATE_LABELS[notice.state],
        step_labels=STEP_LABELS,
        action_labels=ACTIONS_REPORTED,
        country_name=_country_name(notice.country),
        fact_label=words.field_label,
        fact_text=fact_text,
        fact_fields=FACT_FIELDS,
        step_form=forms.get("step_form") or StepForm(),
        rejection_form=forms.get("rejection_form") or RejectionForm(),
        dispatch_form=forms.get("dispatch_form") or DispatchForm(),
        answer_form=forms.get("answer_form") or AnswerForm(),
    )


def _take(notice: Notice, step: str, message: str, **extra: Any) -> WerkzeugResponse:
    signer = documents.signer_for(g.actor.agency_id)
    g.audit.details["custodial_kid"] = signer.kid
    document = documents.step_document(
        notice=notice, step=step, actor=g.actor, at=utcnow(), **extra
    )
    service.take_step(
        context=documents.custodial_context(request_context(), signer),
        notice_id=notice.id,
        step=step,
        submitted=documents.signed_step(document, signer),
    )
    flash(message, "success")
    return redirect(url_for("notices_ui.show", notice_id=notice.id))


def _step_notice(notice_id: str) -> Notice:
    notice = notice_reading.get_notice(actor=g.actor, notice_id=notice_id, for_update=True)
    g.audit.details["notice"] = notice.id
    return notice


@bp.route("/notices/<string:notice_id>/submit", methods=["POST"])
@page("notice.submit", "liaison")
@notes_refusal
def submit(notice_id: str) -> WerkzeugResponse:
    notice = _step_notice(notice_id)
    return _take(notice, "submission", _("Submitted for approval by a second person."))


@bp.route("/notices/<string:notice_id>/approve", methods=["POST"])
@page("notice.approve", "approver")
@notes_refusal
def approve(notice_id: str) -> WerkzeugResponse:
    notice = _step_notice(notice_id)
    return _take(notice, "approval", _("Approved and signed; MOFA can now dispatch it."))


@bp.route("/notices/<string:notice_id>/reject", methods=["POST"])
@page("notice.reject", "approver")
@notes_refusal
def reject(notice_id: str) -> WerkzeugResponse | tuple[str, int]:
    notice = _step_notice(notice_id)
    form = RejectionForm()
    if not form.validate_on_submit():
        return _notice_page(notice, rejection_form=form), 422
    return _take(
        notice,
        "rejection",
        _("Rejected and signed; back to the drafter."),
        reason=_text(form.reason.data),
    )


@bp.route("/notices/<string:notice_id>/dispatch", methods=["POST"])
@page("notice.dispatch", *ROLES)
@notes_refusal
def dispatch(notice_id: str) -> WerkzeugResponse | tuple[str, int]:
    notice = _step_notice(notice_id)
    form = DispatchForm()
    if not form.validate_on_submit():
        return _notice_page(notice, dispatch_form=form), 422
    return _take(
        notice,
        "dispatch",
        _("Countersigned and dispatched through the diplomatic channel."),
        reference=stripped(form.reference.data),
    )


@bp.route("/notices/<string:notice_id>/answer", methods=["POST"])
@page("notice.answer", *ROLES)
@notes_refusal
def answer(notice_id: str) -> WerkzeugResponse | tuple[str, int]:
    notice = _step_notice(notice_id)
    form = AnswerForm()
    if not form.validate_on_submit():
        return _notice_page(notice, answer_form=form), 422
    answer = {
        "received_on": form.received_on.data.isoformat(),
        "summary": _text(form.summary.data),
        "action_reported": form.action_reported.data,
    }
    if stripped(form.reference.data):
        answer["reference"] = stripped(form.reference.data)
    return _take(
        notice, "answer", _("The government's answer was recorded and signed."), answer=answer
    )


@bp.route("/notices/<string:notice_id>/package.json", methods=["GET"])
@page("notice.package", *ROLES)
@notes_refusal
def package_json(notice_id: str) -> Response:
    notice = notice_reading.get_notice(actor=g.actor, notice_id=notice_id)
    g.audit.details["notice"] = notice.id
    return Response(
        json.dumps(package_document(notice), ensure_ascii=False, indent=2),
        content_type="application/json; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="notice-{notice.id}.json"'},
    )


@bp.route("/notices/<string:notice_id>/package.pdf", methods=["GET"])
@page("notice.package_pdf", *ROLES)
@notes_refusal
def package_as_pdf(notice_id: str) -> Response:
    notice = notice_reading.get_notice(actor=g.actor, notice_id=notice_id)
    g.audit.details["notice"] = notice.id
    return Response(
        package_pdf(notice),
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="notice-{notice.id}.pdf"'},
    )
