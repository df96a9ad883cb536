"""Search results as a download, CSV (UTF-8 with a BOM, so Excel shows Japanese) or .xlsx.

The download runs the search page's own filters under its stated purpose, and its audit
entry names every record version it carried. A search that finds more than the configured
bound is refused with a message to narrow it, rather than cut short without saying so.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from flask import Blueprint, current_app, g, request
from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from werkzeug.wrappers import Response

from exchange.clock import utcnow
from exchange.problems import Problem
from exchange.records.pages_forms import SearchForm
from exchange.records.pages_record import agency_directory
from exchange.records.reading import SearchQuery, search_records
from exchange.records.views import QUERY_MEMBERS, audit_search, result_row
from exchange.ui.access import enter_page, page

bp = Blueprint("records_export", __name__)
bp.before_request(enter_page)

_PAGE = 200
# A cell that starts like a formula is run by the spreadsheet that opens it (CSV
# injection, OWASP): such text gets a leading apostrophe, which Excel shows as text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _headings() -> list[str]:
    return [
        _("Record id"),
        _("Version"),
        _("Record type"),
        _("Publisher"),
        _("Name"),
        _("Country"),
        _("Prefecture"),
        _("Category"),
        _("Status"),
        _("Issued at"),
        _("Content (JSON)"),
    ]


def _search_form() -> tuple[str, dict[str, Any]]:
    form = SearchForm(formdata=request.args)
    form.set_publishers([(agency_id, agency_id) for agency_id in agency_directory()])
    if not form.validate() or not form.purpose.data:
        g.audit.details["reason"] = "search_invalid"
        raise Problem(
            422,
            "search_invalid",
            _("Nothing to export"),
            _("Search with a purpose and valid filters first, then download the results."),
        )
    return str(form.purpose.data), form.filters()


def _rows(purpose: str, given: dict[str, Any], bound: int) -> list[list[Any]]:
    query = {k: v for k, v in given.items() if k in QUERY_MEMBERS}
    rows: list[list[Any]] = []
    # Named in the audit entry only once the whole download is made.
    targets: list[tuple[str, int]] = []
    cursor: str | None = None
    while True:
        found = search_records(
            actor=g.actor, query=SearchQuery(**query, cursor=cursor, limit=_PAGE)
        )
        for view in found.items:
            if len(rows) == bound:
                raise Problem(
                    422,
                    "export_too_large",
                    _("Too many records to export"),
                    _(
                        "The search finds more than %(bound)s records. Narrow it (a record "
                        "type, a country, a period) and download again.",
                        bound=format(bound, ","),
                    ),
                )
            envelope = json.loads(view.version.canonical)
            shown = result_row(view, envelope, purpose)
            targets.append((view.record_id, view.version.version))
            rows.append(
                [
                    view.record_id,
                    view.version.version,
                    shown["type"],
                    shown["publisher"],
                    shown["name"],
                    "、".join(shown["countries"]),
                    shown["prefecture"],
                    shown["category"],
                    shown["status_label"],
                    envelope["issued_at"],
                    json.dumps(envelope["payload"], ensure_ascii=False, sort_keys=True),
                ]
            )
        cursor = found.next_cursor
        if cursor is None:
            g.audit.targets.extend(targets)
            return rows


def _inert(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_bytes(headings: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(headings)
    writer.writerows([_inert(v) for v in row] for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


def xlsx_bytes(headings: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Records"))
    sheet.append(list(headings))
    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                # Text stays text: openpyxl would store "=…" as a formula.
                cell.data_type = "s"
            cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@bp.route("/search/export.csv", methods=["GET"], defaults={"kind": "csv"})
@bp.route("/search/export.xlsx", methods=["GET"], defaults={"kind": "xlsx"})
@page("record.export", "liaison")
def export(kind: str) -> Response:
    purpose, given = _search_form()
    audit_search(purpose, given)
    g.audit.details["format"] = kind
    bound = int(current_app.config["EXCHANGE_RECORD_EXPORT_MAX"])
    rows = _rows(purpose, given, bound)
    g.audit.details["records"] = len(rows)
    body = (csv_bytes if kind == "csv" else xlsx_bytes)(_headings(), rows)
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    return Response(
        body,
        mimetype=_MEDIA_TYPES[kind],
        headers={"Content-Disposition": f'attachment; filename="records-{stamp}.{kind}"'},
    )
