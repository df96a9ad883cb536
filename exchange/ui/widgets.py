"""Form widgets of the pages."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from flask_babel import get_locale
from markupsafe import Markup, escape
from wtforms import Field
from wtforms.widgets import Select

_CACHE_SIZE = 256


class CachedSelect(Select):
    """A ``<select>`` whose options are rendered once per language and list of choices.

    The search form offers every country, prefecture, category and allegation: several
    hundred translated options, which would otherwise be rendered again for every page.
    The chosen value is marked in the cached markup, which WTForms writes as
    ``<option value="…">`` and, when chosen, ``<option selected value="…">``.
    """

    def __init__(self) -> None:
        super().__init__(multiple=False)
        self._rendered: OrderedDict[tuple[Any, ...], str] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, field: Field, **kwargs: Any) -> Markup:
        chosen = field.data
        key = (str(get_locale()), field.name, tuple(sorted(kwargs.items())), _values(field))
        with self._lock:
            rendered = self._rendered.get(key)
        if rendered is None:
            field.data = object()  # nothing chosen while the options are rendered
            try:
                rendered = str(super().__call__(field, **kwargs))
            finally:
                field.data = chosen
            with self._lock:
                self._rendered[key] = rendered
                while len(self._rendered) > _CACHE_SIZE:
                    self._rendered.popitem(last=False)
        if chosen not in (None, ""):
            value = escape(str(chosen))
            rendered = rendered.replace(
                f'<option value="{value}">', f'<option selected value="{value}">', 1
            )
        return Markup(rendered)  # noqa: S704 - rendered and escaped by WTForms


def _values(field: Field) -> tuple[Any, ...]:
    """What identifies the choices: their values (and groups), not their labels."""
    choices = field.choices
    if isinstance(choices, dict):
        return tuple((group, tuple(map(_value, items))) for group, items in choices.items())
    return tuple(map(_value, choices or ()))


def _value(choice: Any) -> Any:
    # WTForms takes choices as (value, label) pairs, SelectChoice objects or bare values.
    if isinstance(choice, tuple):
        return choice[0]
    return getattr(choice, "value", choice)
