"""The auditors' filter forms: a trail's filters and a patterns window, read from the query.

Times are entered in Japan Standard Time and kept in UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, DateTimeLocalField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional, Regexp, ValidationError

from exchange.agencies.models import Agency
from exchange.extensions import db
from exchange.trail.access_trails import ATTEMPTS, TrailFilter
from exchange.trail.labels import ACTION_GROUPS, ACTIONS, OUTCOMES
from exchange.ui.filters import JST

_ACTION_CODE = r"^[a-z][a-z0-9_.-]{0,63}$"
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"


class JstMomentField(DateTimeLocalField):
    """A moment in JST; a date alone means the start of that day, or for an ``end``, the
    start of the next day, so that "to 2026-03-31" includes the 31st."""

    data: datetime | None

    def __init__(self, *args: Any, end: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("format", ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"])
        super().__init__(*args, tz=JST, **kwargs)
        self.end = end

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        text = " ".join(str(value) for value in valuelist).strip()
        if self.data is not None and self.end and len(text) == len("YYYY-MM-DD"):
            self.data = self.data + timedelta(days=1)

    def _value(self) -> str:
        if self.data is None:
            return " ".join(self.raw_data) if self.raw_data else ""
        return str(self.data.astimezone(JST).strftime("%Y-%m-%dT%H:%M"))

    @property
    def utc(self) -> datetime | None:
        return None if self.data is None else self.data.astimezone(UTC)


class QueryForm(FlaskForm):
    """A GET form: it changes nothing, so it carries no CSRF token."""

    class Meta:
        csrf = False


def _agency_choices() -> list[SelectChoice]:
    agencies = db.session.execute(
        select(Agency.id, Agency.name_ja, Agency.name_en).order_by(Agency.id)
    ).all()
    japanese = str(get_locale() or "ja") == "ja"
    return [SelectChoice("", str(_l("Any agency")))] + [
        SelectChoice(row.id, f"{row.name_ja if japanese else row.name_en} ({row.id})")
        for row in agencies
    ]


def _check_order(form: Any) -> None:
    since, until = form.since.utc, form.until.utc
    if since is not None and until is not None and until <= since:
        raise ValidationError(_l("The end must come after the start."))


class TrailForm(QueryForm):
    record = StringField(
        _l("Record ID"),
        validators=[Optional(), Length(max=64)],
        filters=[lambda v: v and v.strip()],
    )
    user = StringField(
        _l("User name"),
        validators=[Optional(), Regexp(_NAME, message=_l("Not a user name."))],
        filters=[lambda v: v and v.strip()],
    )
    agency = SelectField(_l("Agency"), validators=[Optional()], validate_choice=True)
    system = StringField(
        _l("System name"),
        validators=[Optional(), Regexp(_NAME, message=_l("Not a system name."))],
        filters=[lambda v: v and v.strip()],
    )
    action = SelectField(_l("Action"), validators=[Optional()], validate_choice=True)
    outcome = SelectField(
        _l("Outcome"),
        choices=[
            SelectChoice("", _l("Any outcome")),
            SelectChoice(ATTEMPTS, _l("Denied and invalid attempts only")),
            *[SelectChoice(code, text) for code, text in OUTCOMES.items()],
        ],
        validators=[Optional()],
    )
    since = JstMomentField(_l("From (JST)"), validators=[Optional()])
    until = JstMomentField(_l("To (JST)"), validators=[Optional()], end=True)
    resources = BooleanField(_l("Include stylesheets, scripts and icons fetched by browsers"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.agency.choices = _agency_choices()
        choices = [SelectChoice("", str(_l("Any action")))]
        for group, actions in ACTION_GROUPS:
            choices += [
                SelectChoice(code, f"{text} ({code})", optgroup=str(group))
                for code, text in actions.items()
            ]
        chosen = self.action.data
        # A trail linked from an entry may name any action the log holds, even one this
        # version no longer records.
        if chosen and chosen not in ACTIONS and re.match(_ACTION_CODE, chosen):
            choices.append(SelectChoice(chosen, chosen, optgroup=str(_l("Other"))))
        self.action.choices = choices

    def validate_until(self, field: JstMomentField) -> None:
        _check_order(self)

    def selection(self) -> TrailFilter:
        return TrailFilter(
            record=self.record.data or None,
            user=self.user.data or None,
            system=self.system.data or None,
            agency=self.agency.data or None,
            action=self.action.data or None,
            outcome=self.outcome.data or None,
            since=self.since.utc,
            until=self.until.utc,
            resources=bool(self.resources.data),
        )


# A window longer than this is refused: patterns are counted hour by hour over it.
MAX_WINDOW_DAYS = 92
DEFAULT_WINDOW_DAYS = 7


class WindowForm(QueryForm):
    since = JstMomentField(_l("From (JST)"), validators=[Optional()])
    until = JstMomentField(_l("To (JST)"), validators=[Optional()], end=True)

    def validate_until(self, field: JstMomentField) -> None:
        _check_order(self)

    def window(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The window chosen (default: the last seven days), or None with a field error."""
        until = self.until.utc or now
        since = self.since.utc or until - timedelta(days=DEFAULT_WINDOW_DAYS)
        if until <= since:
            self.since.errors = [*self.since.errors, _l("The start must come before the end.")]
            return None
        if until - since > timedelta(days=MAX_WINDOW_DAYS):
            message = _l("Choose at most %(days)s days.", days=MAX_WINDOW_DAYS)
            self.since.errors = [*self.since.errors, message]
            return None
        return since, until
