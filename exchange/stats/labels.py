"""What the statistics call things: the labels every page uses, and countries by CLDR.

Codes stay in the data and in the CSV's key column; people read these labels, in the
language of the page. Record types, agency kinds and prefectures are named as on the
other pages, countries too (CLDR's Japanese names, ISO 3166's English ones).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from exchange.agencies.labels import AGENCY_KIND_LABELS, RECORD_TYPE_LABELS
from exchange.records.pages_places import country_name, prefecture_name
from schemas.prefectures import PREFECTURES

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
    """The country's name in the page's language, as every page names it."""
    return country_name(code)
