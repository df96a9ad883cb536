"""The forms of the liaison officers' record pages: search, and the purpose of a look-up.

Both are GET forms: a search is a bookmarkable address, and nothing they send changes
anything (the audit entry is written by every request anyway). They carry no CSRF token.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional, ValidationError

from exchange.records import presentation as words
from exchange.records.pages_places import country_choices, prefecture_choices
from exchange.ui.widgets import CachedSelect

ANY = _l("Any")


def choices(
    vocabulary: Mapping[str, Any] | Iterable[tuple[str, Any]],
    empty: Any = ANY,
    group: Any = None,
) -> list[SelectChoice]:
    """Options of a select: an empty one first (unless ``empty`` is None), then each code
    with its label, in ``group`` (an optgroup) when given."""
    pairs = vocabulary.items() if isinstance(vocabulary, Mapping) else vocabulary
    first = [] if empty is None else [SelectChoice("", empty)]
    optgroup = None if group is None else str(group)
    return first + [SelectChoice(code, label, optgroup=optgroup) for code, label in pairs]


def purpose_choices() -> list[SelectChoice]:
    return choices(words.PURPOSES, _l("Choose the purpose…"))


def _categories() -> list[SelectChoice]:
    return [
        SelectChoice("", ANY),
        *choices(words.BROKER_CATEGORIES, None, words.RECORD_TYPES["broker"]),
        *choices(words.FINDINGS, None, words.RECORD_TYPES["school"]),
        *choices(words.INDUSTRIES, None, _l("Industry (illegal employment)")),
    ]


def _allegations() -> list[SelectChoice]:
    return [
        SelectChoice("", ANY),
        *choices(words.ALLEGATIONS, None, _l("Allegations against brokers")),
        *choices(words.OFFENCES, None, _l("Offences (illegal employment)")),
    ]


class GetForm(FlaskForm):
    class Meta:
        csrf = False


class PurposeForm(GetForm):
    purpose = SelectField(
        _l("Purpose of this look-up"),
        choices=purpose_choices,
        default="",
        render_kw={"required": True},
    )


class SearchForm(GetForm):
    purpose = SelectField(
        _l("Purpose of this look-up"),
        choices=purpose_choices,
        default="",
        render_kw={"required": True},
    )
    q = StringField(_l("Name or alias"), validators=[Optional(), Length(max=200)])
    type = SelectField(_l("Record type"), choices=lambda: choices(words.RECORD_TYPES), default="")
    publisher = SelectField(_l("Publisher"), choices=lambda: choices(()), default="")
    country = SelectField(
        _l("Country"),
        choices=lambda: choices(country_choices()),
        default="",
        widget=CachedSelect(),
    )
    prefecture = SelectField(
        _l("Prefecture"),
        choices=lambda: choices(prefecture_choices()),
        default="",
        widget=CachedSelect(),
    )
    category = SelectField(_l("Category"), choices=_categories, default="", widget=CachedSelect())
    allegation = SelectField(
        _l("Allegation or offence"), choices=_allegations, default="", widget=CachedSelect()
    )
    status = SelectField(_l("Status"), choices=lambda: choices(words.STATUSES), default="")
    issued_from = DateField(_l("Issued from"), validators=[Optional()])
    issued_to = DateField(_l("Issued until"), validators=[Optional()])

    def set_publishers(self, agencies: Iterable[tuple[str, str]]) -> None:
        self.publisher.choices = choices(agencies)

    def validate_issued_to(self, field: DateField) -> None:
        start = self.issued_from.data
        if field.data is not None and start is not None and field.data < start:
            raise ValidationError(_l("Must not be before the first day."))

    def filters(self) -> dict[str, Any]:
        """The filters given, by SearchQuery member name; empty ones left out."""
        given: dict[str, Any] = {}
        for name in (
            "type",
            "publisher",
            "country",
            "prefecture",
            "category",
            "allegation",
            "status",
            "issued_from",
            "issued_to",
        ):
            value = getattr(self, name).data
            if value:
                given[name] = value
        text = (self.q.data or "").strip()
        if text:
            given["q"] = text
        return given
