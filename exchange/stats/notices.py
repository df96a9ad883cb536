"""Counting notices to sending-country governments for the periodic statistics (measure
147): by country and by year of dispatch in Japan. Only counts leave this module, and they are
protected like the record tables before anyone sees them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select

from exchange.extensions import db
from exchange.notices.models import SENT_STATES, Notice
from exchange.stats.labels import country_label
from exchange.stats.report import Report, Row, Table
from exchange.stats.service import Period, jst_month_start
from exchange.stats.suppression import protect, shown_total

TITLES = {
    "notice_country": _l("Notices dispatched, by country"),
    "notice_year": _l("Notices dispatched, by year (JST)"),
}


@dataclass(frozen=True)
class NoticeCounts:
    """Notices dispatched to sending-country governments: raw counts, protected before shown."""

    total: int
    by: dict[str, dict[str | None, int]]


def count_notices(*, period: Period) -> NoticeCounts:
    """Notices dispatched in the period, by country and by year of dispatch (JST).

    Only dispatched notices count: a draft or a rejected one was never sent abroad.
    """
    years = sorted({m.year for m in period.months()})
    conditions = (
        Notice.state.in_(SENT_STATES),
        Notice.dispatched_at >= period.start,
        Notice.dispatched_at < period.end,
    )
    if len(years) == 1:
        rows: list[tuple[Any, ...]] = [
            (country, str(years[0]), count)
            for country, count in db.session.execute(
                select(Notice.country, func.count()).where(*conditions).group_by(Notice.country)
            )
        ]
    else:
        # Each notice falls in the first year whose end (in JST, compared in UTC) lies
        # after it.
        year = case(
            *[
                (Notice.dispatched_at < jst_month_start(date(y + 1, 1, 1)), str(y))
                for y in years[:-1]
            ],
            else_=str(years[-1]),
        )
        rows = [
            tuple(row)
            for row in db.session.execute(
                select(Notice.country, year, func.count())
                .where(*conditions)
                .group_by(Notice.country, year)
            )
        ]
    by_country: Counter[str | None] = Counter()
    by_year: Counter[str | None] = Counter({str(y): 0 for y in years})
    for country, row_year, count in rows:
        by_country[country] += count
        by_year[row_year] += count
    return NoticeCounts(
        total=sum(by_country.values()),
        by={"notice_country": dict(by_country), "notice_year": dict(by_year)},
    )


def build_notice_report(counts: NoticeCounts) -> Report:
    """The notice tables: countries largest first by what is shown, years in order."""
    tables = []
    for dimension, title in TITLES.items():
        protected = protect(counts.by[dimension])
        if protected is None:
            tables.append(Table(dimension, str(title), (), withheld=True))
            continue
        if dimension == "notice_country":
            # Never ordered by hidden values: the order would tell them.
            keys = sorted(
                protected,
                key=lambda k: (protected[k].hidden, -(protected[k].count or 0), k or ""),
            )
            rows = tuple(Row(k or "", country_label(k or ""), protected[k]) for k in keys)
        else:
            rows = tuple(Row(k or "", k or "", protected[k]) for k in protected)
        tables.append(Table(dimension, str(title), rows, withheld=False))
    return Report(total=shown_total(counts.total), tables=tuple(tables))
