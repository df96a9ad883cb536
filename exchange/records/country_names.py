"""Country names in the reader's language, and the order Japanese readers look them up in.

Japanese names come from one maintained list, the Unicode CLDR data that Babel ships
(``Locale("ja").territories``), for every ISO 3166-1 country; English names are the short
names of ``schemas.countries``. CLDR writes most names in katakana, and a few in kanji:
those are read through the small table below (no collation library is at hand), and every
name is sorted by its reading in the order of the Japanese syllabary (gojūon), with voiced
and small kana after their plain forms, as JIS X 4061 dictionaries order them.
"""

from __future__ import annotations

import unicodedata
from functools import cache

from babel import Locale

from schemas.countries import COUNTRY_NAMES

# Readings of the kanji words in CLDR's Japanese country names; longest match first.
KANJI_READINGS = {
    "中華人民共和国": "ちゅうかじんみんきょうわこく",
    "特別行政区": "とくべつぎょうせいく",
    "首長国連邦": "しゅちょうこくれんぽう",
    "民主共和国": "みんしゅきょうわこく",
    "共和国": "きょうわこく",
    "合衆国": "がっしゅうこく",
    "小離島": "しょうりとう",
    "北朝鮮": "きたちょうせん",
    "自治区": "じちく",
    "諸島": "しょとう",
    "南極": "なんきょく",
    "極南": "きょくなん",
    "米領": "べいりょう",
    "仏領": "ふつりょう",
    "英領": "えいりょう",
    "領有": "りょうゆう",
    "中央": "ちゅうおう",
    "中国": "ちゅうごく",
    "赤道": "せきどう",
    "香港": "ほんこん",
    "地域": "ちいき",
    "日本": "にほん",
    "韓国": "かんこく",
    "台湾": "たいわん",
    "連邦": "れんぽう",
    "市国": "しこく",
    "及び": "および",
    "領": "りょう",
    "島": "とう",
    "国": "こく",
    "洋": "よう",
    "西": "にし",
    "東": "ひがし",
    "南": "みなみ",
    "北": "きた",
}
_LONGEST = max(len(word) for word in KANJI_READINGS)

# The vowel each kana ends in: a long-vowel mark (ー) is read as that vowel again.
_VOWELS = {
    kana: vowel
    for vowel, row in zip(
        "あいうえお",
        (
            "あかさたなはまやらわがざだばぱぁゃゎ",
            "いきしちにひみりゐぎじぢびぴぃ",
            "うくすつぬふむゆるぐずづぶぷぅっゅゔ",
            "えけせてねへめれゑげぜでべぺぇ",
            "おこそとのほもよろをごぞどぼぽぉょ",
        ),
        strict=True,
    )
    for kana in row
}
_SMALL = str.maketrans("ぁぃぅぇぉっゃゅょゎ", "あいうえおつやゆよわ")
_VOICING = ("\u3099", "\u309a")


def _hiragana(text: str) -> str:
    """Katakana as hiragana (the blocks are 0x60 apart), after NFKC folds widths."""
    return "".join(
        chr(ord(c) - 0x60) if "\u30a1" <= c <= "\u30f6" else c
        for c in unicodedata.normalize("NFKC", text)
    )


def reading(name: str) -> str:
    """The name as it is read, in hiragana: kanji words through :data:`KANJI_READINGS`."""
    read: list[str] = []
    position = 0
    while position < len(name):
        for length in range(min(_LONGEST, len(name) - position), 0, -1):
            word = name[position : position + length]
            if word in KANJI_READINGS:
                read.append(KANJI_READINGS[word])
                position += length
                break
        else:
            read.append(name[position])
            position += 1
    return _hiragana("".join(read))


def reading_key(name: str) -> tuple[str, str]:
    """Gojūon order: first by plain kana (voicing, small kana, punctuation set aside; a
    long-vowel mark read as its vowel), then by the reading itself."""
    spoken: list[str] = []
    for c in reading(name):
        if c == "ー" and spoken:
            c = _VOWELS.get(spoken[-1], c)
        spoken.append(c)
    plain = "".join(
        c
        for c in unicodedata.normalize("NFD", "".join(spoken).translate(_SMALL))
        if c not in _VOICING and c.isalnum()
    )
    return plain, "".join(spoken)


def latin_key(name: str) -> str:
    """English names by their letters, accents aside: Åland among the A's."""
    return "".join(
        c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)
    ).casefold()


@cache
def _japanese_names() -> dict[str, str]:
    territories = Locale("ja").territories
    return {code: str(territories.get(code) or name) for code, name in COUNTRY_NAMES.items()}


def country_name_in(language: str, code: str) -> str | None:
    if code not in COUNTRY_NAMES:
        return None
    return _japanese_names()[code] if language == "ja" else COUNTRY_NAMES[code]


def name_order(language: str, code: str) -> tuple[str, str]:
    name = country_name_in(language, code) or code
    return reading_key(name) if language == "ja" else (latin_key(name), name)
