"""Forms of the administrators' pages for systems, certificates and signing keys."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateTimeLocalField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Regexp

from exchange.agencies.forms import CheckboxesField, choices
from exchange.agencies.labels import REVOCATION_REASON_LABELS, SYSTEM_ROLE_LABELS
from exchange.agencies.service import SYSTEM_ROLES
from exchange.records import presentation as words

# CA/Browser Forum's ceiling for TLS certificates; the exchange keeps to it for clients too.
MAX_VALID_DAYS = 397


def _valid_days(label: object) -> IntegerField:
    return IntegerField(
        label,
        default=MAX_VALID_DAYS,
        validators=[
            InputRequired(),
            NumberRange(min=1, max=MAX_VALID_DAYS, message=_l("Between 1 and 397 days.")),
        ],
    )


def standing_purpose_choices() -> list[SelectChoice]:
    return [SelectChoice("", _l("None: every read states its purpose"))] + [
        SelectChoice(code, label) for code, label in words.PURPOSES.items()
    ]


class SystemForm(FlaskForm):
    agency = SelectField(_l("Agency"), choices=[])
    name = StringField(
        _l("System name"),
        validators=[
            DataRequired(),
            Regexp(
                r"^[a-z][a-z0-9-]{1,63}$",
                message=_l("Use 2 to 64 of a-z, 0-9 and '-', starting with a letter."),
            ),
        ],
    )
    roles = CheckboxesField(
        _l("Additional roles"), choices=choices(SYSTEM_ROLE_LABELS, SYSTEM_ROLES)
    )


class CsrForm(FlaskForm):
    csr = FileField(
        _l("Certificate signing request (PEM)"),
        validators=[FileRequired(message=_l("Choose the CSR file the agency sent."))],
        render_kw={"accept": ".csr,.pem,.req,application/pkcs10,application/x-pem-file"},
    )
    csr_days = _valid_days(_l("Certificate valid for (days)"))


class BundleForm(FlaskForm):
    bundle_days = _valid_days(_l("Bundle certificate valid for (days)"))


class RevokeForm(FlaskForm):
    reason = SelectField(_l("Reason"), choices=choices(REVOCATION_REASON_LABELS))


class KeyForm(FlaskForm):
    agency = SelectField(_l("Agency"), choices=[])
    jwk = TextAreaField(
        _l("Public key (JWK, JSON)"),
        validators=[DataRequired(), Length(max=4000)],
        render_kw={"rows": 6, "spellcheck": "false"},
    )
    proof = TextAreaField(
        _l("Proof of possession (compact JWS)"),
        validators=[DataRequired(), Length(max=4000)],
        render_kw={"rows": 4, "spellcheck": "false"},
    )


class KeyRevokeForm(FlaskForm):
    compromised_at = DateTimeLocalField(
        _l("Compromised from (JST)"),
        format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        validators=[InputRequired(message=_l("Enter the date and time, in Japan time."))],
    )


class PurposeForm(FlaskForm):
    purpose = SelectField(_l("Standing purpose"), choices=standing_purpose_choices, default="")
