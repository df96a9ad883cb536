"""Records for the browser tests: published over the mTLS API, then looked up on the pages."""

from __future__ import annotations

from typing import Any

from exchange.records.presentation import PURPOSES
from tests.browser.screen import Tab
from tests.factories import AgencySystem

# A supervising organisation in Tokyo, as a labour bureau's on-site inspection would find it.
BROKER_NAME = "東京グローバル人材育成協同組合"


def broker_payload(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "name_original": name,
        "name_latin": "Tokyo Global Jinzai Ikusei Cooperative",
        "category": "supervising_organisation",
        "country": "JP",
        "corporate_number": "4011001098993",
        "address": {"prefecture": "13", "text": "東京都豊島区"},
        "programmes": ["technical_intern"],
        "allegations": ["excessive_fees", "passport_retention"],
        "sources": ["onsite_inspection", "trainee_hearing"],
        "narrative": "実地検査で、実習生の旅券の保管と高額な手数料の徴収を確認した。",
    }


def publish_broker(publisher: AgencySystem, payload: dict[str, Any]) -> dict[str, Any]:
    """A broker record published over the mTLS API, signed by the agency's key."""
    envelope = publisher.envelope("broker", payload=payload, links=[])
    with publisher.client() as exchange:
        exchange.publish(envelope)
    return envelope


def search(tab: Tab, *, purpose: str, publisher: AgencySystem, text: str) -> None:
    """The liaison officer's search form: purpose first (required), then the filters."""
    tab.page.get_by_label(tab.t("Purpose of this look-up"), exact=True).select_option(
        label=tab.t(PURPOSES[purpose])
    )
    tab.page.get_by_label(tab.t("Name or alias"), exact=True).fill(text)
    tab.page.get_by_label(tab.t("Publisher"), exact=True).select_option(
        label=f"{publisher.kind}庁 ({publisher.agency})"
    )
    tab.press("Search")
    tab.at("/search")
