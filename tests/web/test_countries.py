"""Countries as readers find them: one Japanese name each, in Japanese reading order."""

from __future__ import annotations

import re

from babel import Locale
from flask import Flask
from flask_babel import force_locale

from exchange.records.country_names import reading, reading_key
from exchange.records.pages_places import CASELOAD_COUNTRIES, country_choices, country_name
from exchange.stats.labels import country_label as stats_country_label
from schemas.countries import COUNTRY_NAMES
from tests.factories import World
from tests.web.pages import Browser

KANJI = re.compile(r"[\u4e00-\u9fff]")
KANA = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def choices_in(app: Flask, language: str) -> list[tuple[str, str]]:
    with app.test_request_context(), force_locale(language):
        return country_choices()


def names_in(app: Flask, language: str) -> dict[str, str]:
    with app.test_request_context(), force_locale(language):
        return {code: country_name(code) for code in COUNTRY_NAMES}


class TestJapaneseNames:
    def test_every_country_has_cldrs_japanese_name_on_every_page(self, app: Flask) -> None:
        territories = Locale("ja").territories
        names = names_in(app, "ja")
        assert names == {code: territories[code] for code in COUNTRY_NAMES}
        assert all(KANA.search(name) for name in names.values())
        with app.test_request_context(), force_locale("ja"):
            # The statistics name a country as the search filter does: Myanmar one way.
            assert stats_country_label("MM") == names["MM"] == territories["MM"]

    def test_english_pages_keep_the_iso_short_names(self, app: Flask) -> None:
        assert names_in(app, "en") == dict(COUNTRY_NAMES)

    def test_every_kanji_name_has_a_reading(self) -> None:
        territories = Locale("ja").territories
        unread = {code: territories[code] for code in COUNTRY_NAMES}
        assert {c: n for c, n in unread.items() if KANJI.search(reading(n))} == {}


class TestOrder:
    def test_japanese_choices_follow_the_syllabary_after_the_caseload(self, app: Flask) -> None:
        choices = choices_in(app, "ja")
        codes = [code for code, _ in choices]
        assert tuple(codes[: len(CASELOAD_COUNTRIES)]) == CASELOAD_COUNTRIES
        rest = codes[len(CASELOAD_COUNTRIES) :]
        names = names_in(app, "ja")
        assert rest == sorted(rest, key=lambda code: reading_key(names[code]))
        assert rest[0] == "IS"  # アイスランド
        # Åland is オーランド諸島, among the お; kanji names by their reading; voiced
        # kana with their plain forms (ガンビア is read as かんびあ, after かんこく).
        for earlier, later in (
            ("AX", "OM"),  # おおらんど… before おまあん
            ("NA", "AQ"),  # ナミビア before 南極 (なんきょく)
            ("KR", "GM"),  # 韓国 (かんこく) before ガンビア
            ("KP", "GN"),  # 北朝鮮 (きたちょうせん) before ギニア
            ("GN", "CY"),  # ギニア before キプロス
            ("ZA", "SS"),  # 南アフリカ before 南スーダン
        ):
            assert rest.index(earlier) < rest.index(later), (names[earlier], names[later])

    def test_english_choices_are_alphabetical_with_accents_aside(self, app: Flask) -> None:
        choices = choices_in(app, "en")
        rest = [label for _, label in choices[len(CASELOAD_COUNTRIES) :]]
        assert rest[0].startswith("Afghanistan") and rest[1].startswith("Åland Islands")


class TestSearchFilter:
    def test_the_search_page_offers_japanese_names_in_reading_order(
        self, app: Flask, world: World
    ) -> None:
        browser = Browser(app)
        browser.sign_in(world.person(world.agency("police").agency, "liaison"))
        page = browser.get("/search").get_data(as_text=True)
        select = page[page.index('id="country"') :]
        select = select[: select.index("</select>")]
        labels = re.findall(r"<option[^>]*>([^<]*)</option>", select)
        assert "ミャンマー (ビルマ) (MM)" in labels
        assert not [label for label in labels[1:] if not KANA.search(label)]
        assert labels.index("アイスランド (IS)") < labels.index("オーランド諸島 (AX)")
