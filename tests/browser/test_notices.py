"""A notice to a sending-country government, in the browser: an OTIT liaison officer drafts it
from a broker record, a second person approves it, MOFA countersigns and dispatches it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from exchange.notices.labels import STATE_LABELS
from tests.browser.casework import publish_broker
from tests.browser.screen import Tab, either
from tests.browser.test_csp import PageWatch
from tests.factories import World

BROKER = "ハノイ国際人材送出株式会社"
REQUEST_JA = "貴国政府におかれては、下記の送出機関に対し厳正な対応をとられるよう申し入れます。"
REQUEST_EN = "Japan requests that your Government take strict action against the organisation."


def vietnamese_broker() -> dict[str, Any]:
    return {
        "name": BROKER,
        "name_original": "Công ty Cổ phần Nhân lực Quốc tế Hà Nội",
        "name_latin": "Hanoi International Manpower JSC",
        "category": "sending_organisation",
        "country": "VN",
        "programmes": ["technical_intern"],
        "allegations": ["excessive_fees", "deposit_or_penalty_contract"],
        "sources": ["trainee_hearing"],
        "period": {"from": "2025-04-01", "to": "2026-03-31"},
        "narrative": "実習生の供述により、出国前の高額な手数料と保証金契約を確認した。",
    }


class TestNoticeInTheBrowser:
    def test_draft_approve_dispatch(self, tabs: Callable[[str], Tab], world: World) -> None:
        otit = world.agency("otit")
        mofa = world.agency("mofa")
        publish_broker(otit, vietnamese_broker())
        drafter = world.person(otit.agency, "liaison")
        approver = world.person(otit.agency, "approver")
        diplomat = world.person(mofa.agency, "liaison")

        # The liaison officer drafts, signs and submits.
        tab = tabs("drafter")
        watch = PageWatch(tab.page)
        tab.sign_in(drafter)
        tab.open("/notices")
        tab.page.get_by_role("link", name=tab.t("Draft a notice"), exact=True).click()
        tab.at("/notices/new")
        tab.page.get_by_label(tab.t("Sending country"), exact=True).select_option("VN")
        tab.press("Choose brokers")
        tab.snap("choose-brokers")
        tab.page.get_by_role("checkbox", name=re.compile(re.escape(BROKER))).check()
        # The narrative can never be chosen; the quoted fields are from the allowed list.
        assert tab.page.get_by_label(tab.t("Narrative"), exact=True).count() == 0
        tab.fill("Request (Japanese)", REQUEST_JA)
        tab.fill("Request (English)", REQUEST_EN)
        tab.press("Sign and save the draft")
        tab.snap("draft")
        expect(tab.page.get_by_text(tab.t("The draft was signed and saved."))).to_be_visible()
        notice_path = re.sub(r"^https://[^/]+", "", tab.page.url)
        expect(tab.page.get_by_text(REQUEST_JA)).to_be_visible()
        tab.press("Sign and submit for approval")
        tab.snap("submitted")
        expect(
            tab.page.get_by_text(either(tab.t(STATE_LABELS["pending"]), "Awaiting approval"))
        ).to_be_visible()
        # The drafter is shown no approval form.
        expect(tab.page.get_by_role("button", name=tab.t("Sign and approve"))).to_have_count(0)

        # A second person of the same agency approves.
        second = tabs("approver")
        second.sign_in(approver)
        second.open(notice_path, "to-approve")
        second.press("Sign and approve")
        second.snap("approved")
        expect(
            second.page.get_by_text(second.t("Approved and signed; MOFA can now dispatch it."))
        ).to_be_visible()

        # MOFA countersigns and dispatches through the diplomatic channel.
        channel = tabs("mofa")
        channel.sign_in(diplomat)
        channel.open("/notices?state=approved", "mofa-inbox")
        channel.page.locator(f'a[href="{notice_path}"]').click()
        channel.at(notice_path)
        channel.fill("Note verbale reference", "南東二第2026-77号")
        channel.press("Countersign and dispatch")
        channel.snap("dispatched")
        expect(
            channel.page.get_by_text(
                channel.t("Countersigned and dispatched through the diplomatic channel.")
            )
        ).to_be_visible()
        pdf = channel.page.get_by_role("link", name=channel.t("Download PDF"))
        expect(pdf).to_be_visible()
        with channel.page.expect_download() as download:
            pdf.click()
        assert download.value.suggested_filename.endswith(".pdf")
        history = channel.page.get_by_role("table")
        expect(history).to_contain_text(drafter.username)
        expect(history).to_contain_text(approver.username)
        expect(history).to_contain_text(diplomat.username)
        assert watch.clean(), (watch.dialogs, watch.violations, watch.errors)
