"""The notice pages' forms: drafting (country, brokers, fields, request) and each step."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from exchange.agencies.forms import CheckboxesField
from exchange.notices.labels import ACTIONS_REPORTED
from exchange.records import presentation as words
from exchange.records.pages_forms import choices
from exchange.records.pages_places import country_choices
from schemas.fields import LABEL_MAX, NARRATIVE_MAX, REASON_MAX
from schemas.notice import FACT_FIELDS

# Quoted by default: who the broker is, what it did, what was done.
DEFAULT_FIELDS = ("name", "name_latin", "category", "allegations", "period", "measures")


class CountryForm(FlaskForm):
    """The first choice of a draft; a GET form, so it carries no CSRF token."""

    class Meta:
        csrf = False

    country = SelectField(
        _l("Sending country"),
        choices=lambda: choices(country_choices(), _l("Choose the country…")),
        validators=[DataRequired(_l("Choose the country."))],
    )


class DraftForm(FlaskForm):
    brokers = CheckboxesField(
        _l("Brokers concerned"),
        choices=[],
        validators=[InputRequired(_l("Choose at least one broker."))],
    )
    fields = CheckboxesField(
        _l("Fields quoted from the records"),
        choices=[SelectChoice(name, words.field_label(name)) for name in FACT_FIELDS],
        default=list(DEFAULT_FIELDS),
    )
    request_ja = TextAreaField(
        _l("Request (Japanese)"),
        validators=[DataRequired(_l("Write the request in Japanese.")), Length(max=NARRATIVE_MAX)],
        render_kw={"rows": 6, "lang": "ja"},
    )
    request_en = TextAreaField(
        _l("Request (English)"),
        validators=[DataRequired(_l("Write the request in English.")), Length(max=NARRATIVE_MAX)],
        render_kw={"rows": 6, "lang": "en"},
    )

    def set_brokers(self, options: list[tuple[str, str]]) -> None:
        self.brokers.choices = [SelectChoice(code, label) for code, label in options]


class StepForm(FlaskForm):
    """Submission and approval: the step itself is the whole form."""


class RejectionForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason for rejection"),
        validators=[DataRequired(_l("Say why.")), Length(max=REASON_MAX)],
        render_kw={"rows": 3},
    )


class DispatchForm(FlaskForm):
    reference = StringField(
        _l("Note verbale reference"),
        validators=[Optional(), Length(max=LABEL_MAX)],
    )


class AnswerForm(FlaskForm):
    received_on = DateField(_l("Received on"), validators=[InputRequired(_l("Give the date."))])
    action_reported = SelectField(
        _l("Action reported"),
        choices=lambda: choices(ACTIONS_REPORTED, None),
        validators=[DataRequired()],
    )
    summary = TextAreaField(
        _l("Summary of the answer"),
        validators=[DataRequired(_l("Summarise the answer.")), Length(max=REASON_MAX)],
        render_kw={"rows": 4},
    )
    reference = StringField(
        _l("Government's reference"), validators=[Optional(), Length(max=LABEL_MAX)]
    )


def stripped(value: Any) -> str:
    return str(value or "").strip()
