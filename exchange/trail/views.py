"""Auditors' pages: access trails, unusual patterns, the log's state, exports."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy.engine import Connection

from exchange.clock import utcnow
from exchange.database import READ_ONLY
from exchange.extensions import db
from exchange.problems import Problem
from exchange.records.presentation import label_of
from exchange.trail import labels
from exchange.trail.access_trails import ATTEMPTS, count_at_most, entry_at, trail_page
from exchange.trail.entries import MAX_POSITION
from exchange.trail.forms import TrailForm, WindowForm
from exchange.trail.log_status import (
    check_inclusion,
    latest_checkpoint,
    log_verifier,
    recent_cosignatures,
    recent_verifications,
    verification_of,
)
from exchange.trail.patterns import (
    OFF_HOURS_FROM,
    OFF_HOURS_UNTIL,
    READ_ACTIONS,
    Thresholds,
    find_patterns,
)
from exchange.trail.published_log import cosigned_note
from exchange.trail.stored_tree import integrated_size
from exchange.trail.trail_exports import EXPORT_MAX, csv_export, jsonl_export
from exchange.trail.verify_now import INLINE_MAX, background, run_verification
from exchange.ui.access import enter_page, page
from exchange.urlnumbers import canonical_int

bp = Blueprint("audit_ui", __name__)
bp.before_request(enter_page)

AUDITOR = "auditor"
PAGE_SIZE = 50


def setting(name: str, default: int) -> int:
    """A tunable of the auditors' pages: app configuration, else the stated default."""
    return int(current_app.config.get(name, default))


@bp.app_template_global("audit_label")
def audit_label(kind: str, code: str | None) -> str:
    return label_of(getattr(labels, kind), code)


def _before() -> int | None:
    number = canonical_int(request.args.get("before", ""))
    return None if number is None else min(number, MAX_POSITION)


# Only these are carried into links: url_for takes names like _external and _scheme as
# instructions, which a crafted link must not reach.
FILTER_PARAMETERS = (
    "record",
    "user",
    "agency",
    "system",
    "action",
    "outcome",
    "since",
    "until",
    "resources",
)


def _filters_query() -> dict[str, Any]:
    return {k: v for k in FILTER_PARAMETERS if (v := request.args.get(k))}


def _form_problem(form: TrailForm) -> Problem:
    return Problem(
        422,
        "filters_invalid",
        _("Check the filters"),
        errors=[
            {"parameter": name, "detail": str(error)}
            for name, errors in form.errors.items()
            for error in errors
        ],
    )


@bp.get("/audit")
@page("audit.trail.view", AUDITOR)
def trail() -> ResponseReturnValue:
    form = TrailForm(formdata=request.args)
    if not form.validate():
        return render_template(
            "audit/trail.html",
            form=form,
            page=None,
            query={},
            attempts_url=url_for("audit_ui.trail", outcome=ATTEMPTS),
            every_url=url_for("audit_ui.trail"),
        ), 422
    selection = form.selection()
    g.audit.details["filters"] = selection.document()
    results = trail_page(
        db.session.connection(),
        selection=selection,
        before=_before(),
        limit=setting("EXCHANGE_AUDIT_TRAIL_PAGE", PAGE_SIZE),
    )
    query = _filters_query()
    next_url = None
    if results.next_before is not None:
        next_url = url_for("audit_ui.trail", **query, before=results.next_before)
    others = {k: v for k, v in query.items() if k != "outcome"}
    return render_template(
        "audit/trail.html",
        form=form,
        page=results,
        selection=selection,
        query=query,
        next_url=next_url,
        first_page=_before() is None,
        attempts_url=url_for("audit_ui.trail", **others, outcome=ATTEMPTS),
        every_url=url_for("audit_ui.trail", **others),
    )


# The index is parsed here, not by a converter: a path that is not a number still reaches
# this view, and its refusal is audited as an entry view.
@bp.get("/audit/entries/<leaf>")
@page("audit.entry.view", AUDITOR)
def entry(leaf: str) -> ResponseReturnValue:
    connection = db.session.connection()
    leaf_index = int(leaf) if leaf.isdigit() and len(leaf) <= 16 else None
    view = None
    if leaf_index is not None and leaf_index <= MAX_POSITION:
        view = entry_at(connection, leaf_index)
    if view is None or leaf_index is None:
        raise Problem(
            404,
            "entry_not_found",
            _("No such entry"),
            _("No audit entry has leaf index %(index)s yet.", index=leaf[:20]),
        )
    g.audit.details["index"] = leaf_index
    checkpoint = latest_checkpoint(connection, log_verifier(current_app))
    inclusion = check_inclusion(
        connection, checkpoint=checkpoint, leaf_index=leaf_index, canonical=view.canonical
    )
    return render_template(
        "audit/entry.html", view=view, checkpoint=checkpoint, inclusion=inclusion
    )


@bp.get("/audit/patterns")
@page("audit.patterns.view", AUDITOR)
def patterns() -> ResponseReturnValue:
    form = WindowForm(formdata=request.args)
    window = form.window(utcnow()) if form.validate() else None
    thresholds = Thresholds(
        bulk_reads=setting("EXCHANGE_AUDIT_BULK_READS", Thresholds.bulk_reads),
        repeated_denials=setting("EXCHANGE_AUDIT_REPEATED_DENIALS", Thresholds.repeated_denials),
    )
    context: dict[str, Any] = {
        "form": form,
        "thresholds": thresholds,
        "read_actions": READ_ACTIONS,
        "off_hours": (OFF_HOURS_FROM, OFF_HOURS_UNTIL),
    }
    if window is None:
        return render_template("audit/patterns.html", found=None, **context), 422
    since, until = window
    g.audit.details["window"] = {
        "since": since.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "until": until.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    found = find_patterns(db.session.connection(), since=since, until=until, thresholds=thresholds)
    return render_template("audit/patterns.html", found=found, since=since, until=until, **context)


def _log_page(result: dict[str, Any] | None = None) -> str:
    connection = db.session.connection()
    verifier = log_verifier(current_app)
    return render_template(
        "audit/log.html",
        checkpoint=latest_checkpoint(connection, verifier),
        verifier_key=verifier.verifier_key(),
        cosignatures=recent_cosignatures(connection),
        verifications=recent_verifications(connection),
        integrated=integrated_size(connection),
        inline_max=setting("EXCHANGE_AUDIT_VERIFY_INLINE_MAX", INLINE_MAX),
        running_since=background.started_at,
        result=result,
    )


@bp.get("/audit/log")
@page("audit.log.view", AUDITOR)
def log_state() -> ResponseReturnValue:
    chosen = request.args.get("verification", "")
    shown = None
    if chosen and len(chosen) <= 36:
        shown = verification_of(db.session.connection(), chosen)
        if shown is not None:
            g.audit.details["verification"] = chosen
    return _log_page(shown.details if shown is not None else None)


@bp.post("/audit/log/verify")
@page("audit.verify", AUDITOR)
def verify_now() -> ResponseReturnValue:
    connection = db.session.connection()
    size = integrated_size(connection)
    if size <= setting("EXCHANGE_AUDIT_VERIFY_INLINE_MAX", INLINE_MAX):
        result = run_verification(connection, current_app)
        g.audit.details.update({"mode": "inline", **result.details()})
        # The result is read back from this request's own entry, on the page the browser
        # is sent to once the entry is committed, so it is among the recent ones too.
        return redirect(url_for("audit_ui.log_state", verification=g.request_id), 303)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    started = background.start(app, actor=g.actor)
    g.audit.details.update({"mode": "background", "started": started, "leaves": size})
    if started:
        flash(_("The verification has started. Its result will be shown here when it ends."))
    else:
        flash(_("A verification is already running."), "warning")
    return redirect(url_for("audit_ui.log_state"))


def _export_selection() -> Any:
    form = TrailForm(formdata=request.args)
    if not form.validate():
        raise _form_problem(form)
    return form.selection()


def _bounded(kind: str) -> tuple[Any, int, str]:
    selection = _export_selection()
    size, note = cosigned_note()
    bound = setting("EXCHANGE_AUDIT_EXPORT_MAX", EXPORT_MAX)
    count = count_at_most(db.session.connection(), selection=selection, size=size, bound=bound + 1)
    g.audit.details.update(
        {"format": kind, "filters": selection.document(), "checkpoint": size, "entries": count}
    )
    if count > bound:
        raise Problem(
            422,
            "export_too_large",
            _("Too many entries to export"),
            _(
                "The filters match more than %(bound)s entries. Narrow them (a shorter time "
                "range, one agency, user or record) and export again.",
                bound=f"{bound:,}",
            ),
        )
    return selection, size, note


def _streaming_connection() -> Connection:
    return db.session.connection(execution_options={READ_ONLY: True})


def _download(body: Iterator[str], mimetype: str, extension: str) -> Response:
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    return Response(
        stream_with_context(body),
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="audit-trail-{stamp}.{extension}"'},
    )


def _csv_header() -> list[str]:
    return [
        _("Leaf index"),
        _("Time (UTC)"),
        _("Action"),
        _("Outcome"),
        _("HTTP status"),
        _("Actor kind"),
        _("Agency"),
        _("System"),
        _("User"),
        _("Account concerned"),
        _("Purpose"),
        _("Targets"),
        _("Request ID"),
    ]


@bp.get("/audit/export.csv")
@page("audit.export", AUDITOR)
def export_csv() -> ResponseReturnValue:
    selection, size, _note = _bounded("csv")
    header = _csv_header()

    def body() -> Iterator[str]:
        # The request's transaction is committed with its audit entry before the body
        # streams: the rows are read in a read-only transaction of their own.
        yield from csv_export(
            _streaming_connection(), selection=selection, size=size, header=header
        )

    return _download(body(), "text/csv", "csv")


@bp.get("/audit/export.jsonl")
@page("audit.export", AUDITOR)
def export_jsonl() -> ResponseReturnValue:
    selection, size, note = _bounded("jsonl")

    def body() -> Iterator[str]:
        yield from jsonl_export(_streaming_connection(), selection=selection, size=size, note=note)

    return _download(body(), "application/jsonl", "jsonl")
