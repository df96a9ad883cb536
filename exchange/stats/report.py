"""The statistics as published: labelled tables whose small counts are protected.

Everything shown on the page, drawn in its charts or written to the CSV comes from a
:class:`Report`; the raw counts never leave :func:`build_report`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from exchange.agencies.models import AGENCY_KINDS
from exchange.stats.labels import (
    AGENCY_KIND_LABELS,
    NO_COUNTRY,
    NO_PREFECTURE,
    RECORD_TYPE_LABELS,
    country_label,
    prefecture_name,
)
from exchange.stats.service import RecordCounts
from exchange.stats.suppression import HIDDEN_MARK, Shown, protect, shown_total
from schemas import RECORD_TYPES

TITLES = {
    "type": _l("By record type"),
    "agency_kind": _l("By kind of publishing agency"),
    "country": _l("By country"),
    "prefecture": _l("By prefecture"),
    "month": _l("By month of issue (JST)"),
}
# Countries and prefectures are many: only those with records are listed (the rest are 0).
_FIXED_KEYS: Mapping[str, tuple[str, ...]] = {"type": RECORD_TYPES, "agency_kind": AGENCY_KINDS}


@dataclass(frozen=True)
class Row:
    key: str  # the code ("" for not stated); the CSV's key column
    label: str
    shown: Shown


@dataclass(frozen=True)
class Table:
    dimension: str
    title: str
    rows: tuple[Row, ...]
    # Withheld when no suppression pattern protects its small counts: no row is shown.
    withheld: bool

    @property
    def scale(self) -> int:
        """The largest visible count: the length of a full bar."""
        return max((row.shown.count or 0 for row in self.rows), default=0)


@dataclass(frozen=True)
class Report:
    total: Shown
    tables: tuple[Table, ...]


def _label(dimension: str, key: str | None) -> str:
    if dimension == "type":
        return str(RECORD_TYPE_LABELS.get(key or "", key))
    if dimension == "agency_kind":
        return str(AGENCY_KIND_LABELS.get(key or "", key))
    if dimension == "prefecture":
        return prefecture_name(key) if key else str(NO_PREFECTURE)
    if dimension == "country":
        return country_label(key) if key else str(NO_COUNTRY)
    return key or ""


def _order(dimension: str, cells: dict[str | None, Shown]) -> list[str | None]:
    if dimension in _FIXED_KEYS or dimension == "month":
        return list(cells)
    # Largest first by what is shown, never by the hidden values (the order would tell
    # them); hidden cells in code order, "not stated" last.
    return sorted(
        cells,
        key=lambda key: (
            key is None,
            cells[key].hidden,
            -(cells[key].count or 0),
            key or "",
        ),
    )


def _table(dimension: str, counts: Mapping[str | None, int]) -> Table:
    title = str(TITLES[dimension])
    if dimension in _FIXED_KEYS:
        counts = {key: counts.get(key, 0) for key in _FIXED_KEYS[dimension]}
    protected = protect(counts)
    if protected is None:
        return Table(dimension, title, (), withheld=True)
    rows = tuple(
        Row(key or "", _label(dimension, key), protected[key])
        for key in _order(dimension, protected)
    )
    return Table(dimension, title, rows, withheld=False)


def build_report(counts: RecordCounts) -> Report:
    return Report(
        total=shown_total(counts.total),
        tables=tuple(_table(dimension, counts.by[dimension]) for dimension in TITLES),
    )


def csv_lines(
    report: Report, referrals: Report | None = None, notices: Report | None = None
) -> Iterator[str]:
    """Long format, one line per cell: dimension,key,label,count (counts as published)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(*values: str) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    # RFC 4180 with a byte order mark: spreadsheet software then reads the labels as UTF-8.
    yield "\ufeff" + line("dimension", "key", "label", "count")
    yield line("total", "", _("All records"), report.total.text)
    tables = report.tables
    if referrals is not None:
        tables += referrals.tables
        yield line("referral_total", "", _("All referrals"), referrals.total.text)
    if notices is not None:
        tables += notices.tables
        yield line("notices_total", "", _("All notices dispatched"), notices.total.text)
    for table in tables:
        if table.withheld:
            yield line(table.dimension, "", _("Withheld"), HIDDEN_MARK)
        for row in table.rows:
            yield line(table.dimension, row.key, row.label, row.shown.text)
