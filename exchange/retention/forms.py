"""Forms of the legal-hold pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from exchange.retention.holds import MAX_REASON


class HoldRequestForm(FlaskForm):
    record_id = StringField(
        _l("Record ID"), validators=[DataRequired(_l("Enter the record's ID.")), Length(max=64)]
    )
    reason = TextAreaField(
        _l("Reason for the hold"),
        validators=[DataRequired(_l("A reason is required.")), Length(max=MAX_REASON)],
    )


class HoldApproveForm(FlaskForm):
    """Only the CSRF token: the hold is named by the address."""


class HoldLiftForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason for lifting"),
        validators=[DataRequired(_l("A reason is required.")), Length(max=MAX_REASON)],
    )
