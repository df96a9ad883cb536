"""Forms of the administrators' pages for agencies, users and the sharing policy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from exchange.agencies.labels import AGENCY_KIND_LABELS, USER_ROLE_LABELS
from exchange.agencies.models import Agency
from exchange.auth.models import USER_ROLES
from exchange.auth.service import MIN_PASSWORD_LENGTH
from exchange.errors import Refusal

# The services' refusals, in words an administrator can act on; the services speak English
# to the API and the console, the pages say the same in the reader's language.
_REFUSALS: dict[str, Any] = {
    "You cannot remove your own admin role.": _l("You cannot remove your own admin role."),
    "You cannot disable your own account.": _l("You cannot disable your own account."),
    "A user has at least one role.": _l("Choose at least one role."),
    "A name of 1-200 characters.": _l("Enter a name of 1 to 200 characters."),
    f"A password has at least {MIN_PASSWORD_LENGTH} characters.": _l(
        "A password has at least 12 characters."
    ),
    "3-64 of a-z, 0-9, '.', '_' and '-', from a letter.": _l(
        "Use 3 to 64 of a-z, 0-9, '.', '_' and '-', starting with a letter."
    ),
    "Use a-z, 0-9 and '-'.": _l("Use a-z, 0-9 and '-', starting with a letter."),
}
_CODES: dict[str, Any] = {
    "user_exists": _l("This user name is already taken."),
    "agency_exists": _l("An agency with this id already exists."),
    "agency_not_found": _l("The agency does not exist."),
    "system_exists": _l("This agency already has a system of this name."),
}


def explain(problem: Refusal) -> Any:
    """What a service's refusal means, for the person at the form."""
    if problem.code in _CODES:
        return _CODES[problem.code]
    details = [str(e.get("detail", "")) for e in problem.errors] + [problem.detail or ""]
    for detail in details:
        if detail in _REFUSALS:
            return _REFUSALS[detail]
    return problem.detail or problem.title


def refused_field(problem: Refusal) -> str | None:
    """The form field a refusal is about, when the service names one."""
    for error in problem.errors:
        if error.get("field"):
            return str(error["field"])
    return None


class CheckboxesField(SelectMultipleField):
    """Several choices as checkboxes in a fieldset (templates/admin/macros.html)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def choices(labels: Mapping[str, Any], codes: tuple[str, ...] | None = None) -> list[SelectChoice]:
    """Options of a select or checkboxes: the stored code, shown by its label."""
    return [SelectChoice(code, labels[code]) for code in (codes or tuple(labels))]


def agency_choices(agencies: list[Agency], *, blank: Any = None) -> list[SelectChoice]:
    options = [SelectChoice("", str(blank))] if blank is not None else []
    return options + [SelectChoice(a.id, f"{a.name_ja} / {a.name_en} ({a.id})") for a in agencies]


class AgencyForm(FlaskForm):
    agency_id = StringField(
        _l("Agency id"),
        validators=[
            DataRequired(),
            Regexp(
                r"^[a-z][a-z0-9-]{1,31}$",
                message=_l("Use 2 to 32 of a-z, 0-9 and '-', starting with a letter."),
            ),
        ],
    )
    kind = SelectField(_l("Kind"), choices=choices(AGENCY_KIND_LABELS))
    name_ja = StringField(_l("Name in Japanese"), validators=[DataRequired(), Length(max=200)])
    name_en = StringField(_l("Name in English"), validators=[DataRequired(), Length(max=200)])
    parent = SelectField(_l("Parent agency"), choices=[], default="")


class UserForm(FlaskForm):
    username = StringField(
        _l("User name"),
        validators=[
            DataRequired(),
            Regexp(
                r"^[a-z][a-z0-9._-]{2,63}$",
                message=_l("Use 3 to 64 of a-z, 0-9, '.', '_' and '-', starting with a letter."),
            ),
        ],
    )
    display_name = StringField(_l("Display name"), validators=[DataRequired(), Length(max=200)])
    agency = SelectField(_l("Agency"), choices=[])
    roles = CheckboxesField(
        _l("Roles"),
        choices=choices(USER_ROLE_LABELS, USER_ROLES),
        validators=[InputRequired(message=_l("Choose at least one role."))],
    )
    password = PasswordField(
        _l("Initial password"),
        validators=[
            DataRequired(),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=1024,
                message=_l("A password has at least 12 characters."),
            ),
        ],
        render_kw={"autocomplete": "new-password"},
    )


class RolesForm(FlaskForm):
    roles = CheckboxesField(
        _l("Roles"),
        choices=choices(USER_ROLE_LABELS, USER_ROLES),
        validators=[InputRequired(message=_l("Choose at least one role."))],
    )


class PolicyForm(FlaskForm):
    """The note and the version edited; the matrix's checkboxes are read by policy_pages."""

    note = TextAreaField(
        _l("Why this change"),
        validators=[
            DataRequired(message=_l("Say why the policy changes.")),
            Length(max=500),
        ],
    )
    base_version = HiddenField()


class ReferralPolicyForm(FlaskForm):
    """The note and the version edited; the matrices' checkboxes are read by the page."""

    note = TextAreaField(
        _l("Why this change"),
        validators=[
            DataRequired(message=_l("Say why the referral policy changes.")),
            Length(max=500),
        ],
    )
    base_version = HiddenField()


class ReferralPolicyConfirmForm(FlaskForm):
    """What the administrator reviewed, carried to the confirmation unchanged."""

    note = HiddenField(validators=[DataRequired(), Length(max=500)])
    base_version = HiddenField(validators=[DataRequired()])
    rules = HiddenField(validators=[DataRequired(), Length(max=20_000)])
