"""The referral pages refuse what the service refuses, say why, and audit it; a referral
is seen by its sender and receivers only; the header counts what is open."""

from __future__ import annotations

import re

from flask import Flask

from exchange.clock import utcnow
from tests.exchange.helpers import audit_entry
from tests.factories import World
from tests.web.pages import Browser
from tests.web.test_search_pages import publish, sign_in


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
