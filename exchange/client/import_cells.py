"""A spreadsheet cell as the value a record field holds: 「ベトナム」 → "VN", 「茨城県」 → "08",
「高額手数料、旅券取上げ」 → ["excessive_fees", "passport_retention"], 「2025/4/1」 → "2025-04-01".

What cannot be read is passed on as written, for the schema to refuse with its own message.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from babel import Locale

from exchange.client.import_columns import JAPANESE_COUNTRY_ALIASES, Column, heading_key
from schemas.countries import COUNTRY_NAMES
from schemas.prefectures import PREFECTURES

# Items of a list in one cell: 、 and ; as agencies write them; ・ is part of some labels.
_ITEM_SEPARATORS = re.compile(r"[、，,;；\n]+")
_NATIONALITY = re.compile(r"^(.+?)[\s:：=]*([0-9]+)\s*人?$")
_EVALUATION = re.compile(r"^([ABCX])\s*[-/ ]?\s*([1-4])$")
_SLASHED_DATE = re.compile(r"^([0-9]{4})[/.年]([0-9]{1,2})[/.月]([0-9]{1,2})日?$")
_CLDR_JAPANESE = Locale("ja").territories
_COUNTRY_BY_NAME = {
    heading_key(name): code
    for code, english in COUNTRY_NAMES.items()
    for name in (english, _CLDR_JAPANESE.get(code, english))
} | {heading_key(name): code for name, code in JAPANESE_COUNTRY_ALIASES.items()}
_PREFECTURE_BY_NAME = {
    heading_key(name): code
    for code, (japanese, english) in PREFECTURES.items()
    for name in (japanese, japanese.rstrip("都府県"), english)
}


def _country(text: str) -> str:
    if re.fullmatch(r"[A-Za-z]{2}", text):
        return text.upper()
    return _COUNTRY_BY_NAME.get(heading_key(text), text)


def _prefecture(text: str) -> str:
    if text.isdigit() and len(text) <= 2:
        return text.zfill(2)
    return _PREFECTURE_BY_NAME.get(heading_key(text), text)


def _date(text: str) -> str:
    match = _SLASHED_DATE.match(unicodedata.normalize("NFKC", text))
    if match is None:
        return text
    return f"{match[1]}-{int(match[2]):02d}-{int(match[3]):02d}"


def _label(text: str, labels: Mapping[str, str]) -> str:
    folded = {heading_key(k): v for k, v in labels.items()}
    return folded.get(heading_key(text), text.strip())


def cell_value(column: Column, text: str) -> Any:
    """The value a cell holds for its field; what cannot be read is passed on as written,
    for the schema to refuse with its own message."""
    kind = column.kind
    if kind in ("text", "date", "count", "corporate_number"):
        text = text.strip()
    if kind == "texts":
        return [item.strip() for item in _ITEM_SEPARATORS.split(text) if item.strip()]
    if kind == "choice":
        return _label(text, column.labels)
    if kind == "choices":
        items = (item for item in _ITEM_SEPARATORS.split(text) if item.strip())
        return [_label(item, column.labels) for item in items]
    if kind == "country":
        return _country(text.strip())
    if kind == "prefecture":
        return _prefecture(unicodedata.normalize("NFKC", text.strip()))
    if kind == "count":
        digits = unicodedata.normalize("NFKC", text).replace(",", "")
        return int(digits) if digits.isdigit() else text
    if kind == "date":
        return _date(text)
    if kind == "corporate_number":
        return re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", text))
    if kind == "nationalities":
        entries: list[Any] = []
        for item in _ITEM_SEPARATORS.split(unicodedata.normalize("NFKC", text)):
            match = _NATIONALITY.match(item.strip())
            if match:
                entries.append({"country": _country(match[1].strip()), "count": int(match[2])})
            elif item.strip():
                entries.append({"country": _country(item.strip()), "count": "?"})
        return entries
    if kind == "evaluation":
        match = _EVALUATION.match(unicodedata.normalize("NFKC", text).upper().strip())
        return {"source": match[1], "information": match[2]} if match else text
    return text
