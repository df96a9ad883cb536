"""Folding text so that searches match however a name was typed.

A name is stored folded and a query is folded the same way, so that equality of folded
forms is what "matches" means:

- NFKC (UAX #15): full-width ASCII to ASCII, half-width katakana to full-width (with their
  dakuten composed), ligatures and compatibility characters to their plain forms;
- case folding (Unicode ``CaseFolding.txt``, full folding: ß → ss);
- kana folding: katakana to hiragana, so that カタカナ and かたかな match;
- accent folding for Latin and other scripts that mark accents with the combining
  diacritics block (U+0300–U+036F): "Công ty" and "cong ty" match. Letters that carry their
  mark in the letter itself (đ, ø, ł, æ …) have no decomposition and are mapped by hand.
  Japanese voicing marks (U+3099, U+309A) lie outside that block: ガ never folds to カ;
- whitespace runs to one space, none at either end.
"""

from __future__ import annotations

import re
import unicodedata

# Katakana U+30A1–U+30F6 and the iteration marks ヽヾ sit 0x60 above their hiragana.
_KATAKANA_TO_HIRAGANA = {code: code - 0x60 for code in range(0x30A1, 0x30F7)} | {
    0x30FD: 0x309D,
    0x30FE: 0x309E,
}
# Latin letters whose stroke or ligature is part of the letter: NFD leaves them whole.
# Only lower case is needed: this runs after case folding.
_UNDECOMPOSABLE = str.maketrans(
    {
        "đ": "d",
        "ð": "d",
        "ø": "o",
        "ł": "l",
        "ħ": "h",
        "ı": "i",
        "ŧ": "t",
        "ƀ": "b",
        "ɨ": "i",
        "ʉ": "u",
        "æ": "ae",
        "œ": "oe",
        "þ": "th",
    }
)
_COMBINING_DIACRITICS = re.compile("[\u0300-\u036f]+")
_WHITESPACE = re.compile(r"\s+")


def fold(text: str) -> str:
    """The form a name is stored and searched in (see the module docstring)."""
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_KATAKANA_TO_HIRAGANA)
    if not folded.isascii():
        stripped = _COMBINING_DIACRITICS.sub("", unicodedata.normalize("NFD", folded))
        folded = unicodedata.normalize("NFC", stripped).translate(_UNDECOMPOSABLE)
    return _WHITESPACE.sub(" ", folded).strip()
