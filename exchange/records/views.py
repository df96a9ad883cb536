"""Liaison officers' pages: search and the record page.

Every look-up states its purpose first (DESIGN §5): the search shows no results, and the
record page shows nothing of the record, until one is chosen. The purpose, the record
versions shown and the search terms (as keyed hashes) go into the request's audit entry.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from flask import Blueprint, g, render_template, request, url_for
from flask_babel import gettext as _

from exchange.agencies.policy import PURPOSES
from exchange.pki.vault import load_vault
from exchange.records import presentation as words
from exchange.records.pages_forms import PurposeForm, SearchForm
from exchange.records.pages_places import country_label, prefecture_label
from exchange.records.pages_record import AgencyName, agency_directory, build_record_page
from exchange.records.reading import (
    COUNT_BOUND,
    SearchQuery,
    VersionView,
    count_matches,
    read_versions,
    record_id_from_path,
    search_records,
)
from exchange.records.related import subject_name
from exchange.records.signing import compromise_flag
from exchange.trail.entries import protect_term
from exchange.ui.access import enter_page, page
from exchange.urlnumbers import canonical_int
from schemas import search_fields

bp = Blueprint("records_ui", __name__)
bp.before_request(enter_page)

PAGE_SIZE = 50
QUERY_MEMBERS = frozenset(f.name for f in dataclasses.fields(SearchQuery))


def audit_search(purpose: str, given: dict[str, Any]) -> None:
    g.audit.purpose = purpose
    filters = {k: str(v) for k, v in given.items() if k != "q"}
    if "q" in given:
        # Search terms are kept only as keyed hashes (DESIGN §7), as the API keeps them.
        filters["q"] = protect_term(given["q"], key=load_vault().audit_hmac_key)
    g.audit.details["filters"] = filters


def result_row(view: VersionView, envelope: dict[str, Any], purpose: str) -> dict[str, Any]:
    facts = search_fields(envelope)
    version = view.version
    return {
        "href": url_for("records_ui.record", record_id=view.record_id, purpose=purpose),
        "name": subject_name(envelope),
        "type": words.label_of(words.RECORD_TYPES, envelope.get("type")),
        "publisher": envelope.get("publisher"),
        "countries": [country_label(c) for c in facts.countries],
        "prefecture": prefecture_label(facts.prefecture),
        "category": words.category_label(envelope.get("type"), facts.category),
        "status": envelope.get("status"),
        "status_label": words.label_of(words.STATUSES, envelope.get("status")),
        "issued_at": version.issued_at,
        "version": version.version,
        "compromised": compromise_flag(
            view.key, issued_at=version.issued_at, received_at=version.received_at
        ),
    }


def _next_url(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    arguments: dict[str, Any] = {k: v for k, v in request.args.items() if k != "cursor" and v}
    return url_for("records_ui.search", **arguments, cursor=cursor)


def _publishers(directory: dict[str, AgencyName]) -> list[tuple[str, str]]:
    return [(agency_id, agency.label()) for agency_id, agency in directory.items()]


@bp.route("/search", methods=["GET"])
@page("record.search", "liaison")
def search() -> Any:
    directory = agency_directory()
    form = SearchForm(formdata=request.args or None)
    form.set_publishers(_publishers(directory))
    context: dict[str, Any] = {"form": form, "directory": directory, "results": None}
    if not request.args:
        return render_template("records/search.html", **context)
    valid = form.validate()
    purpose = form.purpose.data
    if not purpose:
        g.audit.details["reason"] = "purpose_required"
        form.purpose.errors = [
            *form.purpose.errors,
            _("Choose the purpose of this look-up: results are shown only for a stated purpose."),
        ]
        valid = False
    if not valid:
        return render_template("records/search.html", **context), 422
    given = {k: v for k, v in form.filters().items() if k in QUERY_MEMBERS}
    audit_search(purpose, form.filters())
    cursor = (request.args.get("cursor") or "")[:200] or None
    found = search_records(
        actor=g.actor, query=SearchQuery(**given, cursor=cursor, limit=PAGE_SIZE)
    )
    results = []
    for view in found.items:
        envelope = json.loads(view.version.canonical)
        g.audit.targets.append((view.record_id, view.version.version))
        results.append(result_row(view, envelope, purpose))
    context.update(
        results=results,
        total=count_matches(actor=g.actor, query=SearchQuery(**given)),
        count_bound=COUNT_BOUND,
        purpose_label=words.label_of(words.PURPOSES, purpose),
        next_url=_next_url(found.next_cursor),
        continued=cursor is not None,
        export_arguments={k: v for k, v in request.args.items() if k != "cursor" and v},
    )
    return render_template("records/search.html", **context)


def _version_argument() -> int | None:
    number = canonical_int(request.args.get("version", ""))
    return number if number is not None and 1 <= number < 2**31 else None


@bp.route("/records/<record_id:record_id>", methods=["GET"])
@page("record.read", "liaison")
def record(record_id: str) -> Any:
    record_id = record_id_from_path(record_id)
    purpose = request.args.get("purpose") or ""
    if purpose not in PURPOSES:
        # Nothing of the record is read until a purpose is stated.
        g.audit.action = "record.purpose_prompt"
        form = PurposeForm(formdata=request.args or None)
        if purpose:
            form.purpose.errors = [_("Not a purpose this exchange knows.")]
        return render_template("records/purpose.html", form=form, record_id=record_id), (
            422 if purpose else 200
        )
    g.audit.purpose = purpose
    views = read_versions(actor=g.actor, record_id=record_id)
    directory = agency_directory()
    shown = build_record_page(
        actor=g.actor,
        views=views,
        version=_version_argument(),
        purpose=purpose,
        directory=directory,
    )
    g.audit.targets.extend(shown.targets())
    return render_template(
        "records/record.html",
        record=shown,
        purpose=purpose,
        purpose_label=words.label_of(words.PURPOSES, purpose),
        directory=directory,
        words=words,
    )
