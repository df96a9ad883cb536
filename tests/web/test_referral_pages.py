"""The referral pages refuse what the service refuses, say why, and audit it; a referral
is seen by its sender and receivers only; the header counts what is open."""

from __future__ import annotations

import json
import re
import uuid

from flask import Flask

from exchange.clock import utcnow
from tests.exchange.helpers import audit_entry
from tests.factories import World
from tests.web.pages import Browser
from tests.web.test_search_pages import broker, publish, sign_in


def _send_form(record_id: str, receiver: str, kind: str) -> dict[str, object]:
    return {
        "receivers": receiver,
        "kind": kind,
        "records": record_id,
        "requested_action": "確認をお願いします。",
        "due": utcnow().date().replace(year=utcnow().year + 1).isoformat(),
        "text": "",
    }


class TestReferralPages:
    def test_refused_receiver_then_sent_and_seen_by_the_receiver_only(
        self, app: Flask, world: World
    ) -> None:
        immigration = world.agency("immigration")
        mofa = world.agency("mofa")
        labour = world.agency("labour")
        police = world.agency("police")
        envelope = immigration.envelope("broker")
        publish(app, immigration, envelope)
        sender = Browser(app)
        sign_in(sender, world.person(immigration.agency, "liaison"))

        sender.get(f"/referrals/new?record={envelope['id']}")
        assert envelope["id"] in sender.last.get_data(as_text=True)  # type: ignore[union-attr]
        refused = sender.post(
            "/referrals/new", _send_form(envelope["id"], mofa.agency, "violation_notification")
        )
        assert refused.status_code == 403
        assert "referral_receiver_not_allowed" in refused.get_data(as_text=True)
        entry = audit_entry(app, refused.headers["Exchange-Request-Id"])
        assert entry["action"] == "referral.send"
        assert entry["details"]["reason"] == "referral_receiver_not_allowed"

        sender.get("/referrals/new")
        sent = sender.post(
            "/referrals/new", _send_form(envelope["id"], labour.agency, "violation_notification")
        )
        assert sent.status_code == 302, sent.get_data(as_text=True)
        path = sent.headers["Location"]
        entry = audit_entry(app, sent.headers["Exchange-Request-Id"])
        assert entry["details"]["custodial_key_created"]

        receiver = Browser(app)
        sign_in(receiver, world.person(labour.agency, "liaison"))
        home = receiver.get("/referrals").get_data(as_text=True)
        assert re.search(r'title="Open referrals to your agency">1<', home)
        assert receiver.get(path).status_code == 200

        outsider = Browser(app)
        sign_in(outsider, world.person(police.agency, "liaison"))
        assert outsider.get(path).status_code == 404
        assert outsider.post(path + "/acknowledge", {}, csrf=False).status_code in (400, 403)

        receiver.get(path)
        assert receiver.post(path + "/close", {"close-outcome": "no_action"}).status_code == 422
        assert receiver.post(path + "/acknowledge", {}).status_code == 302
        receiver.get(path)
        closed = receiver.post(
            path + "/close", {"close-outcome": "no_action", "close-reason": "対象外のため。"}
        )
        assert closed.status_code == 302
        receiver.get(path)
        again = receiver.post(path + "/acknowledge", {})
        assert again.status_code == 409
        assert audit_entry(app, again.headers["Exchange-Request-Id"])["details"]["reason"] == (
            "referral_closed"
        )


class TestFindingRecordsInTheSendForm:
    def test_found_ticked_added_and_sent_with_typed_ids(self, app: Flask, world: World) -> None:
        immigration = world.agency("immigration")
        labour = world.agency("labour")
        name = f"Picker Placement Agency {uuid.uuid4().hex[:8]}"
        found = broker(immigration, name)
        publish(app, immigration, found)
        typed = immigration.envelope("broker")
        publish(app, immigration, typed)
        sender = Browser(app)
        sign_in(sender, world.person(immigration.agency, "liaison"))
        sender.get("/referrals/new")
        form = {**_send_form(typed["id"], labour.agency, "violation_notification"), "find_q": name}

        no_purpose = sender.post("/referrals/new/find", form)
        assert no_purpose.status_code == 422
        assert "Choose the purpose of this look-up" in no_purpose.get_data(as_text=True)
        assert found["id"] not in no_purpose.get_data(as_text=True)

        results = sender.post("/referrals/new/find", {**form, "find_purpose": "labour_inspection"})
        assert results.status_code == 200
        page = results.get_data(as_text=True)
        assert f'name="picked" value="{found["id"]}"' in page
        assert "確認をお願いします。" in page and typed["id"] in page
        entry = audit_entry(app, results.headers["Exchange-Request-Id"])
        assert entry["action"] == "record.search"
        assert entry["purpose"] == "labour_inspection"
        assert entry["details"]["for"] == "referral"
        assert name not in json.dumps(entry)
        assert [t["id"] for t in entry["targets"]] == [found["id"]]

        added = sender.post("/referrals/new/find", {**form, "find_q": "", "picked": found["id"]})
        assert added.status_code == 200
        assert audit_entry(app, added.headers["Exchange-Request-Id"])["action"] == ("referral.form")
        records = re.search(
            r'<textarea[^>]*name="records"[^>]*>(.*?)</textarea>',
            added.get_data(as_text=True),
            re.S,
        )
        assert records and records.group(1).split() == [typed["id"], found["id"]]

        sent = sender.post(
            "/referrals/new",
            {**form, "records": records.group(1), "picked": found["id"]},
        )
        assert sent.status_code == 302, sent.get_data(as_text=True)
        entry = audit_entry(app, sent.headers["Exchange-Request-Id"])
        assert entry["action"] == "referral.send"
        referral = sender.get(sent.headers["Location"]).get_data(as_text=True)
        assert found["id"] in referral and typed["id"] in referral

    def test_ticked_records_count_when_sending_straight_away(
        self, app: Flask, world: World
    ) -> None:
        immigration = world.agency("immigration")
        labour = world.agency("labour")
        picked = immigration.envelope("broker")
        publish(app, immigration, picked)
        sender = Browser(app)
        sign_in(sender, world.person(immigration.agency, "liaison"))
        sender.get("/referrals/new")
        form = {**_send_form("", labour.agency, "violation_notification"), "picked": picked["id"]}
        sent = sender.post("/referrals/new", form)
        assert sent.status_code == 302, sent.get_data(as_text=True)
        assert picked["id"] in sender.get(sent.headers["Location"]).get_data(as_text=True)
