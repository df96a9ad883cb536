"""Places as people read them: JIS X 0401 prefectures and ISO 3166-1 countries by name.

Records carry codes only (DESIGN §4); pages show the name beside the code, in the reader's
language. Prefecture names are official in both languages; country names are CLDR's in
Japanese and ISO 3166's in English (``exchange.records.country_names``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from flask_babel import get_locale

from exchange.records.country_names import country_name_in, name_order
from schemas.countries import COUNTRY_NAMES

# JIS X 0401: code -> (Japanese, English).
PREFECTURES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "01": ("北海道", "Hokkaido"),
        "02": ("青森県", "Aomori"),
        "03": ("岩手県", "Iwate"),
        "04": ("宮城県", "Miyagi"),
        "05": ("秋田県", "Akita"),
        "06": ("山形県", "Yamagata"),
        "07": ("福島県", "Fukushima"),
        "08": ("茨城県", "Ibaraki"),
        "09": ("栃木県", "Tochigi"),
        "10": ("群馬県", "Gunma"),
        "11": ("埼玉県", "Saitama"),
        "12": ("千葉県", "Chiba"),
        "13": ("東京都", "Tokyo"),
        "14": ("神奈川県", "Kanagawa"),
        "15": ("新潟県", "Niigata"),
        "16": ("富山県", "Toyama"),
        "17": ("石川県", "Ishikawa"),
        "18": ("福井県", "Fukui"),
        "19": ("山梨県", "Yamanashi"),
        "20": ("長野県", "Nagano"),
        "21": ("岐阜県", "Gifu"),
        "22": ("静岡県", "Shizuoka"),
        "23": ("愛知県", "Aichi"),
        "24": ("三重県", "Mie"),
        "25": ("滋賀県", "Shiga"),
        "26": ("京都府", "Kyoto"),
        "27": ("大阪府", "Osaka"),
        "28": ("兵庫県", "Hyogo"),
        "29": ("奈良県", "Nara"),
        "30": ("和歌山県", "Wakayama"),
        "31": ("鳥取県", "Tottori"),
        "32": ("島根県", "Shimane"),
        "33": ("岡山県", "Okayama"),
        "34": ("広島県", "Hiroshima"),
        "35": ("山口県", "Yamaguchi"),
        "36": ("徳島県", "Tokushima"),
        "37": ("香川県", "Kagawa"),
        "38": ("愛媛県", "Ehime"),
        "39": ("高知県", "Kochi"),
        "40": ("福岡県", "Fukuoka"),
        "41": ("佐賀県", "Saga"),
        "42": ("長崎県", "Nagasaki"),
        "43": ("熊本県", "Kumamoto"),
        "44": ("大分県", "Oita"),
        "45": ("宮崎県", "Miyazaki"),
        "46": ("鹿児島県", "Kagoshima"),
        "47": ("沖縄県", "Okinawa"),
    }
)

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
