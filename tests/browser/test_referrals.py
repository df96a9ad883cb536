"""A referral walked from sender to receiver in Chromium: an immigration office notifies a
labour bureau of a suspected wage violation (measure 204), finding the record from the
send form; the bureau acknowledges it, assigns it and closes it with a corrective order;
each step signed on the exchange."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from playwright.sync_api import expect

from exchange.clock import utcnow
from exchange.referrals.labels import KIND_LABELS, OUTCOME_LABELS
from tests.browser.casework import BROKER_NAME, broker_payload, publish_broker
from tests.browser.screen import Tab
from tests.browser.test_csp import PageWatch
from tests.factories import World


class TestReferralInTheBrowser:
    def test_send_acknowledge_assign_close(self, tabs: Callable[[str], Tab], world: World) -> None:
        immigration = world.agency("immigration")
        labour = world.agency("labour")
        envelope = publish_broker(immigration, broker_payload(BROKER_NAME))
        officer = world.person(immigration.agency, "liaison")
        inspector = world.person(labour.agency, "liaison")

        sender = tabs("sender")
        sender_watch = PageWatch(sender.page)
        sender.sign_in(officer)
        sender.open("/referrals/new", "new-referral")
        # The record is found from the form: the search page's search, for a purpose.
        sender.page.get_by_label(sender.t("Purpose of the search"), exact=True).select_option(
            value="administrative_disposition"
        )
        sender.fill("Name or alias", BROKER_NAME)
        sender.press("Search records")
        sender.snap("records-found")
        found = sender.page.locator(f'input[name="picked"][value="{envelope["id"]}"]')
        expect(found).to_have_attribute("aria-label", sender.t("Add %(name)s", name=BROKER_NAME))
        found.check()
        sender.press("Add the ticked records")
        records = sender.page.get_by_label(sender.t("Records (one id per line)"), exact=True)
        expect(records).to_have_value(envelope["id"])
        expect(
            sender.page.locator(f'input[name="picked"][value="{envelope["id"]}"]')
        ).to_have_count(0)
        sender.page.get_by_label(sender.t("Receiving agencies"), exact=True).select_option(
            value=labour.agency
        )
        sender.page.get_by_label(sender.t("Kind of referral"), exact=True).select_option(
            label=sender.t(KIND_LABELS["violation_notification"])
        )
        sender.fill(
            "Requested action",
            "技能実習生への賃金不払いの疑いがあります。監督指導の上、結果を報告願います。",
        )
        due = (utcnow() + timedelta(days=30)).date().isoformat()
        sender.page.get_by_label(sender.t("Due date"), exact=True).fill(due)
        sender.page.get_by_label(
            sender.t("Attachments (PDF, PNG, JPEG, CSV or text; up to 5 files of 2 MiB)"),
            exact=True,
        ).set_input_files(
            {
                "name": "聴取記録.txt",
                "mimeType": "text/plain",
                "buffer": "実習生3名から聴取。".encode(),
            }
        )
        sender.snap("filled")
        sender.press("Sign and send")
        sender.snap("sent")
        expect(
            sender.page.get_by_text(sender.t("The referral was signed and sent."))
        ).to_be_visible()
        referral_path = sender.page.url.removeprefix(sender.base)
        expect(
            sender.page.get_by_text(
                sender.t("signed on the exchange by user %(name)s", name=officer.username)
            )
        ).to_be_visible()

        receiver = tabs("receiver")
        receiver_watch = PageWatch(receiver.page)
        receiver.sign_in(inspector)
        badge = receiver.page.locator("header nav .badge").first
        expect(badge).to_have_text("1")
        receiver.open("/referrals", "inbox")
        receiver.page.get_by_role(
            "link", name=receiver.t(KIND_LABELS["violation_notification"])
        ).click()
        receiver.at(referral_path)
        receiver.snap("received")
        receiver.press("Acknowledge receipt")
        receiver.snap("acknowledged")
        receiver.page.get_by_label(receiver.t("Assign to"), exact=True).select_option(index=0)
        receiver.press("Assign")
        receiver.snap("assigned")
        receiver.page.get_by_label(receiver.t("Outcome"), exact=True).select_option(
            label=receiver.t(OUTCOME_LABELS["corrective_order"])
        )
        receiver.fill("Note for the sender", "是正勧告書を交付し、未払い賃金の支払いを確認した。")
        receiver.press("Close with this outcome")
        receiver.snap("closed")
        history = receiver.page.locator("ol.history > li")
        expect(history).to_have_count(4)
        expect(history.nth(3)).to_contain_text(receiver.t(OUTCOME_LABELS["corrective_order"]))
        expect(history.nth(3)).to_contain_text(
            receiver.t("signed on the exchange by user %(name)s", name=inspector.username)
        )

        sender.open("/referrals?box=outbox&tab=closed", "outbox-closed")
        expect(
            sender.page.get_by_role("link", name=sender.t(KIND_LABELS["violation_notification"]))
        ).to_be_visible()
        sender.open(referral_path, "referral-closed")
        expect(sender.page.locator("ol.history > li")).to_have_count(4)
        assert sender_watch.clean(), (
            sender_watch.dialogs,
            sender_watch.violations,
            sender_watch.errors,
        )
        assert receiver_watch.clean(), (
            receiver_watch.dialogs,
            receiver_watch.violations,
            receiver_watch.errors,
        )
