"""The statistics page: counts for periodic publication, small counts suppressed."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, g, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import MonthField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional, ValidationError

from exchange.clock import utcnow
from exchange.problems import Problem
from exchange.stats.charts import chart
from exchange.stats.labels import RECORD_TYPE_LABELS
from exchange.stats.notices import build_notice_report, count_notices
from exchange.stats.referrals import build_referral_report, count_referrals
from exchange.stats.report import build_report, csv_lines
from exchange.stats.service import MAX_MONTHS, Period, count_records, month_key
from exchange.ui.access import enter_page, page
from exchange.ui.filters import JST
from schemas import RECORD_TYPES

bp = Blueprint("stats_ui", __name__)
bp.before_request(enter_page)

ROLES = ("liaison", "auditor", "admin")
DEFAULT_MONTHS = 12
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 1)


def _months_before(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


class StatisticsForm(FlaskForm):
    """The period and record type; a GET form, so it carries no CSRF token."""

    class Meta:
        csrf = False

    start = MonthField(_l("From (month)"), validators=[Optional()])
    end = MonthField(_l("To (month)"), validators=[Optional()])
    type = SelectField(
        _l("Record type"),
        choices=[
            SelectChoice("", _l("All types")),
            *(SelectChoice(t, RECORD_TYPE_LABELS[t]) for t in RECORD_TYPES),
        ],
        default="",
    )

    def validate_start(self, field: MonthField) -> None:
        if field.data is not None and not EARLIEST <= field.data <= LATEST:
            raise ValidationError(_l("A month between 2000 and 2100."))

    def validate_end(self, field: MonthField) -> None:
        if field.data is not None and not EARLIEST <= field.data <= LATEST:
            raise ValidationError(_l("A month between 2000 and 2100."))
        try:
            self.period()
        except ValueError:
            raise ValidationError(
                _l(
                    "The period ends before it begins or is longer than %(months)d months.",
                    months=MAX_MONTHS,
                )
            ) from None

    def period(self) -> Period:
        """The chosen months; by default the twelve up to this month in Japan."""
        this_month = utcnow().astimezone(JST).date().replace(day=1)
        end = self.end.data.replace(day=1) if self.end.data else None
        start = self.start.data.replace(day=1) if self.start.data else None
        if end is None:
            end = max(this_month, start) if start else this_month
        if start is None:
            start = _months_before(end, DEFAULT_MONTHS - 1)
        return Period(start, end)

    def record_type(self) -> str | None:
        return self.type.data or None


def _chosen() -> tuple[StatisticsForm, Period | None, str | None]:
    form = StatisticsForm(request.args)
    if not form.validate():
        return form, None, None
    period, record_type = form.period(), form.record_type()
    g.audit.purpose = "statistics"
    g.audit.details["period"] = f"{month_key(period.first)}/{month_key(period.last)}"
    if record_type:
        g.audit.details["type"] = record_type
    # Filled in so that the form shows the period the numbers are for.
    form.start.data, form.end.data = period.first, period.last
    return form, period, record_type


@bp.route("/stats", methods=["GET"])
@page("stats.read", *ROLES)
def index() -> str | tuple[str, int]:
    form, period, record_type = _chosen()
    if period is None:
        return render_template("stats/index.html", form=form, report=None), 422
    report = build_report(count_records(actor=g.actor, period=period, record_type=record_type))
    return render_template(
        "stats/index.html",
        form=form,
        report=report,
        referral_report=build_referral_report(count_referrals(period=period)),
        notice_report=build_notice_report(count_notices(period=period)),
        period=period,
        chart=chart,
        type_label=RECORD_TYPE_LABELS[record_type] if record_type else None,
        csv_query={
            "start": month_key(period.first),
            "end": month_key(period.last),
            "type": record_type or "",
        },
    )


@bp.route("/stats.csv", methods=["GET"])
@page("stats.export", *ROLES)
def export() -> Response:
    form, period, record_type = _chosen()
    if period is None:
        raise Problem(
            422,
            "parameters_invalid",
            "Invalid period",
            errors=[
                {"parameter": name, "detail": str(error)}
                for name, errors in form.errors.items()
                for error in errors
            ],
        )
    report = build_report(count_records(actor=g.actor, period=period, record_type=record_type))
    referral_report = build_referral_report(count_referrals(period=period))
    notice_report = build_notice_report(count_notices(period=period))
    name = f"statistics-{month_key(period.first)}_{month_key(period.last)}"
    if record_type:
        name += f"-{record_type}"
    return Response(
        "".join(csv_lines(report, referral_report, notice_report)),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
