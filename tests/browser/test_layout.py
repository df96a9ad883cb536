"""The layout at a common office screen, 1366×768, measured in the browser in both languages.

The search page must show its first results without scrolling, with status pills and short
words on one line and the name field, the one most searches use, the widest of its row;
the header must stay one row on every page, the administrators' longest menu included.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Locator, Page

from tests.browser.casework import broker_payload, publish_broker
from tests.browser.screen import Tab
from tests.factories import World

WIDTH, HEIGHT = 1366, 768

# The number of text lines an element's content takes, from the boxes of its text: a box
# that starts below the line so far begins a new one (smaller text sits lower on a line).
_LINES = """element => {
  const range = document.createRange();
  range.selectNodeContents(element);
  const boxes = [...range.getClientRects()].filter(b => b.width > 0).sort((a, b) => a.top - b.top);
  let lines = 0, bottom = -Infinity;
  for (const b of boxes) {
    if (b.top >= bottom - 2) { lines += 1; bottom = b.bottom; }
    else { bottom = Math.max(bottom, b.bottom); }
  }
  return lines;
}"""


def lines(locator: Locator) -> list[int]:
    return [int(item.evaluate(_LINES)) for item in locator.all()]


def box(locator: Locator) -> dict[str, float]:
    found = locator.bounding_box()
    assert found is not None, "the element is not shown"
    return {name: found[name] for name in ("x", "y", "width", "height")}


def assert_header_is_one_row(page: Page) -> None:
    """Brand, menu and account controls side by side: every item's box within the first
    row's height."""
    header = box(page.locator("header.top"))
    items = page.locator("header.top nav li, header.top .brand, header.top .account > *")
    tops = [box(item)["y"] for item in items.all()]
    assert max(tops) - min(tops) < 12, tops
    assert header["height"] < 64, header


def choose_language(tab: Tab, language: str) -> None:
    button = {"en": "English", "ja": "日本語"}[language]
    current = tab.page.locator("html").get_attribute("lang")
    if current != language:
        tab.page.get_by_role("button", name=button, exact=True).click()
        tab.page.wait_for_function(f"document.documentElement.lang === '{language}'")


@pytest.fixture()
def screen(tabs: Callable[[str], Tab]) -> Callable[[str], Tab]:
    def open_tab(who: str) -> Tab:
        tab = tabs(who)
        tab.page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
        return tab

    return open_tab


@pytest.fixture(scope="module")
def published(world: World, server: Any) -> str:
    """A page of records with long Japanese names and categories, as a search returns."""
    publisher = world.agency("labour")
    for n in range(12):
        payload = broker_payload(f"日本語教育機関連携人材育成協同組合 第{n}支部")
        payload["category"] = "supervising_organisation" if n % 2 else "employment_agency"
        publish_broker(publisher, payload)
    return publisher.agency


@pytest.mark.parametrize("language", ["ja", "en"])
class TestSearchPage:
    def test_first_results_are_visible_and_nothing_short_wraps(
        self, screen: Callable[[str], Tab], world: World, published: str, language: str
    ) -> None:
        tab = screen(language)
        officer = world.person(world.agency("immigration").agency, "liaison")
        tab.sign_in(officer)
        choose_language(tab, language)
        tab.open(f"/search?purpose=investigation&q=日本語教育機関&publisher={published}")
        tab.snap(f"search-{language}")
        page = tab.page
        assert page.evaluate("window.scrollY") == 0
        assert page.evaluate("window.innerWidth") == WIDTH

        rows = page.locator("table.results tbody tr")
        assert rows.count() >= 10
        first = box(rows.first)
        assert first["y"] + first["height"] <= HEIGHT, first

        # Status pills, versions, types, categories and dates: one line each.
        table = page.locator("table.results")
        for selector in (".badge", "td.type", "td.category", "td.issued", "td.place"):
            counted = lines(table.locator(selector))
            assert counted and set(counted) == {1}, (selector, counted)
        caption = table.locator("caption").inner_text()
        assert any(ch.isdigit() for ch in caption)
        assert_header_is_one_row(page)

    def test_the_name_field_is_the_widest_and_aligned(
        self, screen: Callable[[str], Tab], world: World, language: str
    ) -> None:
        tab = screen(language)
        tab.sign_in(world.person(world.agency("immigration").agency, "liaison"))
        choose_language(tab, language)
        tab.open("/search")
        tab.snap(f"search-form-{language}")
        page = tab.page
        name = box(page.locator("#q"))
        purpose = box(page.locator("#purpose"))
        assert abs(name["y"] - purpose["y"]) < 2, (name, purpose)
        for field in ("type", "publisher", "country", "prefecture"):
            other = box(page.locator(f"#{field}"))
            assert name["width"] > other["width"], (field, name, other)
        form = box(page.locator("form.filters"))
        # The form leaves most of the first screen to the results.
        assert form["y"] + form["height"] < HEIGHT / 2, form


@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize(
    ("role", "paths"),
    [
        ("admin", ("/admin/agencies", "/admin/systems", "/admin/users", "/stats")),
        ("auditor", ("/audit", "/audit/log")),
        ("liaison", ("/search", "/subscriptions")),
    ],
)
def test_the_header_is_one_row(
    screen: Callable[[str], Tab], world: World, language: str, role: str, paths: tuple[str, ...]
) -> None:
    tab = screen(f"{language}-{role}")
    # Each role on its own, as most people hold one: its menu is the one they see.
    tab.sign_in(world.person(world.agency("immigration").agency, role))
    choose_language(tab, language)
    for path in paths:
        tab.open(path, f"header-{language}")
        assert_header_is_one_row(tab.page)
