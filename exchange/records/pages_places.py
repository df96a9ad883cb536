"""Places as people read them: JIS X 0401 prefectures and ISO 3166-1 countries by name.

Records carry codes only (DESIGN §4); pages show the name beside the code, in the reader's
language. Prefecture names are official in both languages; country names are CLDR's in
Japanese and ISO 3166's in English (``exchange.records.country_names``).
"""

from __future__ import annotations

from flask_babel import get_locale

from exchange.records.country_names import country_name_in, name_order
from schemas.countries import COUNTRY_NAMES
from schemas.prefectures import PREFECTURES

# The countries most records name come first in choice lists (DESIGN §4).
CASELOAD_COUNTRIES = (
    "VN",
    "CN",
    "ID",
    "PH",
    "MM",
    "NP",
    "KH",
    "LK",
    "BD",
    "UZ",
    "MN",
    "TH",
    "IN",
    "PK",
    "LA",
    "JP",
)


def _japanese() -> bool:
    return str(get_locale() or "ja") == "ja"


def prefecture_name(code: str | None) -> str:
    names = PREFECTURES.get(code or "")
    if names is None:
        return code or ""
    return names[0] if _japanese() else names[1]


def prefecture_label(code: str | None) -> str:
    """ "茨城県 (08)": the name people know and the code the data holds."""
    if not code:
        return ""
    return f"{prefecture_name(code)} ({code})" if code in PREFECTURES else code


def _language() -> str:
    return "ja" if _japanese() else "en"


def country_name(code: str | None) -> str:
    """The country's name in the reader's language: CLDR's Japanese, ISO 3166's English."""
    return country_name_in(_language(), code or "") or code or ""


def country_label(code: str | None) -> str:
    if not code:
        return ""
    return f"{country_name(code)} ({code})" if code in COUNTRY_NAMES else code


def prefecture_choices() -> list[tuple[str, str]]:
    return [(code, prefecture_label(code)) for code in PREFECTURES]


def country_choices() -> list[tuple[str, str]]:
    """The caseload's countries first, then every other in the reader's order: by reading
    in Japanese, alphabetically in English."""
    language = _language()
    rest = sorted(
        (code for code in COUNTRY_NAMES if code not in CASELOAD_COUNTRIES),
        key=lambda code: name_order(language, code),
    )
    return [(code, country_label(code)) for code in (*CASELOAD_COUNTRIES, *rest)]
