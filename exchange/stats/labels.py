"""What the statistics call things: the labels every page uses, and countries by CLDR.

Codes stay in the data and in the CSV's key column; people read these labels, in the
language of the page. Record types, agency kinds and prefectures are named as on the
other pages; countries are named from the Unicode CLDR data that Babel ships, which has a
Japanese name for every ISO 3166 country (the statistics may list any of them).
"""

from __future__ import annotations

from babel import Locale, UnknownLocaleError
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from exchange.agencies.labels import AGENCY_KIND_LABELS, RECORD_TYPE_LABELS
from exchange.records.pages_places import PREFECTURES, prefecture_name
from schemas.countries import COUNTRY_NAMES

__all__ = [
    "AGENCY_KIND_LABELS",
    "NO_COUNTRY",
    "NO_PREFECTURE",
    "PREFECTURES",
    "RECORD_TYPE_LABELS",
    "country_label",
    "prefecture_name",
]

NO_PREFECTURE = _l("No prefecture (abroad or not stated)")
NO_COUNTRY = _l("No country stated")


def country_label(code: str) -> str:
    """The country's name in the page's language: CLDR's in Japanese, ISO 3166's in English."""
    language = str(get_locale() or "ja")
    if language != "en":
        try:
            name = Locale.parse(language).territories.get(code)
        except (UnknownLocaleError, ValueError):
            name = None
        if name:
            return str(name)
    return COUNTRY_NAMES.get(code, code)
