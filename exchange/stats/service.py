"""Counting records for the periodic statistics (measure 147): aggregates only.

The statistics describe the whole caseload, not what one agency may read: every record
counts once, as its latest version describes it, whoever published it and whatever its
audience, except withdrawn ones. Nothing of a record's content leaves this module, only
counts, and the caller protects small counts before anyone sees them
(:mod:`exchange.stats.suppression`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import aliased

from exchange.agencies.models import Agency
from exchange.auth.actor import Actor
from exchange.extensions import db
from exchange.records.disposed import DISPOSED
from exchange.records.models import Record, RecordVersion
from exchange.ui.filters import JST

# Ten years: a longer period is not a periodic statistic, and it bounds the month query.
MAX_MONTHS = 120
DIMENSIONS = ("type", "agency_kind", "country", "prefecture", "month")


def month_key(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def jst_month_start(month: date) -> datetime:
    """The instant, in UTC, at which a month begins in Japan."""
    return datetime(month.year, month.month, 1, tzinfo=JST).astimezone(UTC)


def jst_month_of(moment: datetime) -> str:
    """The month in Japan of an instant: 2026-01-31T16:00Z is already February there."""
    local = moment.astimezone(JST)
    return f"{local.year:04d}-{local.month:02d}"


@dataclass(frozen=True)
class Period:
    """Whole months in Japan Standard Time, from ``first`` to ``last`` inclusive."""

    first: date
    last: date

    def __post_init__(self) -> None:
        object.__setattr__(self, "first", self.first.replace(day=1))
        object.__setattr__(self, "last", self.last.replace(day=1))
        if self.last < self.first:
            raise ValueError("the period ends before it begins")
        if len(self.months()) > MAX_MONTHS:
            raise ValueError(f"at most {MAX_MONTHS} months")

    def months(self) -> list[date]:
        months: list[date] = []
        month = self.first
        while month <= self.last and len(months) <= MAX_MONTHS:
            months.append(month)
            month = _next_month(month)
        return months

    @property
    def start(self) -> datetime:
        return jst_month_start(self.first)

    @property
    def end(self) -> datetime:
        """The first instant after the period (exclusive)."""
        return jst_month_start(_next_month(self.last))


@dataclass(frozen=True)
class RecordCounts:
    """Raw counts: never shown as they are (small counts are protected first)."""

    total: int
    # dimension → key → count; a key of None is "not stated" (no prefecture, no country).
    by: dict[str, dict[str | None, int]]


def count_records(*, actor: Actor, period: Period, record_type: str | None) -> RecordCounts:
    """Counts by record type, publishing agency kind, country, prefecture and month.

    A record belongs to the month in which its first version was issued: amendments
    change what it says, not when the case was reported, so a published period's
    figures do not move to a later period when a record is amended.
    """
    first = aliased(RecordVersion)
    conditions = [
        # A disposed record's countries and prefecture are destroyed with its payload.
        Record.status.not_in(("withdrawn", DISPOSED)),
        first.issued_at >= period.start,
        first.issued_at < period.end,
    ]
    if record_type is not None:
        conditions.append(Record.type == record_type)

    def grouped(*columns: Any) -> list[tuple[Any, ...]]:
        query = (
            select(*columns, func.count())
            .select_from(Record)
            .join(first, and_(first.record_pk == Record.pk, first.version == 1))
        )
        if Agency.kind in columns:
            query = query.join(Agency, Agency.id == Record.publisher)
        return [
            tuple(row) for row in db.session.execute(query.where(*conditions).group_by(*columns))
        ]

    # Months in Japan, whatever the database's time zone functions: each record falls
    # in the first month whose end (computed here in JST, compared in UTC) lies after it.
    months = period.months()
    month = case(
        *[(first.issued_at < jst_month_start(_next_month(m)), month_key(m)) for m in months[:-1]],
        else_=month_key(months[-1]),
    )
    # Three scans, not five: type, agency kind and month have few combinations together
    # (at most 3 x 6 x 120), and are added up here.
    by_type: Counter[str | None] = Counter()
    by_kind: Counter[str | None] = Counter()
    by_month: Counter[str | None] = Counter()
    rows = (
        grouped(Record.type, Agency.kind, month)
        if len(months) > 1
        else [(*row[:2], month_key(months[0]), row[2]) for row in grouped(Record.type, Agency.kind)]
    )
    for row_type, kind, row_month, count in rows:
        by_type[row_type] += count
        by_kind[kind] += count
        by_month[row_month] += count
    by_prefecture = {prefecture: count for prefecture, count in grouped(Record.prefecture)}
    # ",VN,CN," holds every country a record names; a few hundred distinct combinations
    # at most, split here rather than in dialect-specific SQL.
    by_country: Counter[str | None] = Counter()
    for countries, count in grouped(Record.countries):
        codes: list[str | None] = [code for code in (countries or "").split(",") if code]
        for code in codes or [None]:
            by_country[code] += count
    return RecordCounts(
        total=sum(by_type.values()),
        by={
            "type": dict(by_type),
            "agency_kind": dict(by_kind),
            "country": dict(by_country),
            "prefecture": by_prefecture,
            "month": {month_key(m): by_month.get(month_key(m), 0) for m in months},
        },
    )
