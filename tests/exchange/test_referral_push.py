"""Referral events pushed over real sockets: every step of a referral reaches the sending
and the receiving agency's endpoints in order, through outages, retries and dead letters."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from exchange.extensions import db
from exchange.feeds.models import Subscription
from exchange.feeds.running import build_worker
from exchange.trail.integrator_process import build_integrator
from exchange.trail.models import AuditEntry
from tests.exchange.helpers import audit_entry
from tests.exchange.push_receiver import Receiver, start_receiver
from tests.exchange.test_push import FAST_RETRIES, drain
from tests.exchange.test_referrals import referral, sign, step
from tests.factories import AgencySystem, World
from tests.isolated import isolated_app

LIFE = ["sent", "acknowledged", "assigned", "closed"]


@pytest.fixture()
def fresh(tmp_path: Path) -> Iterator[Flask]:
    with isolated_app(tmp_path / "instance", **FAST_RETRIES) as app:
        yield app


@pytest.fixture()
def receivers(fresh: Flask, tmp_path: Path) -> Iterator[tuple[Receiver, Receiver]]:
    sender = start_receiver(fresh, tmp_path / "sender")
    receiver = start_receiver(fresh, tmp_path / "receiver")
    yield sender, receiver
    sender.stop()
    receiver.stop()


class Parties:
    def __init__(self, app: Flask, tmp_path: Path) -> None:
        world = World(app, tmp_path / "bundles")
        self.app = app
        self.immigration = world.agency("immigration")
        self.labour = world.agency("labour")
        self.police = world.agency("police")
        envelope = self.immigration.envelope("illegal_employment")
        self.post(self.immigration, "/api/v1/records", self.immigration.submission(envelope))
        self.case = str(envelope["id"])

    def post(self, caller: AgencySystem, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.app.test_client().post(path, json=body, environ_base=caller.environ())
        assert response.status_code == 201, response.json
        assert response.json is not None
        return dict(response.json)

    def follow(self, caller: AgencySystem, endpoint: str) -> str:
        body = {"name": "referrals", "feed": "referrals", "mode": "push", "endpoint": endpoint}
        return str(self.post(caller, "/api/v1/subscriptions", body)["id"])

    def send(self) -> dict[str, Any]:
        document = referral(self.immigration, [self.labour], [self.case])
        signed = {"referral": document, "signature": sign(self.immigration, document)}
        return self.post(self.immigration, "/api/v1/referrals", signed)

    def take(self, sent: dict[str, Any], kind: str, path: str, **extra: Any) -> None:
        document = step(self.labour, sent, kind, **extra)
        body = {"step": document, "signature": sign(self.labour, document)}
        self.post(self.labour, f"/api/v1/referrals/{sent['id']}/{path}", body)

    def whole_life(self, sent: dict[str, Any]) -> None:
        self.take(sent, "acknowledged", "acknowledgement")
        self.take(sent, "assigned", "assignment", assignee="労働基準監督官 B")
        self.take(sent, "closed", "closure", outcome="guidance_given", note="指導した。")

    def integrate(self) -> None:
        with self.app.app_context():
            build_integrator(self.app).integrate(checkpoint=True)
            db.session.remove()


def steps_of(receiver: Receiver, referral_id: str) -> list[str]:
    return [e["step"] for e in receiver.events if e["referral"] == referral_id]


def subscription(app: Flask, subscription_id: str) -> Subscription:
    with app.app_context():
        found = db.session.get(Subscription, subscription_id)
        assert found is not None
        db.session.expunge(found)
        db.session.remove()
        return found


def push_entries(app: Flask, subscription_id: str) -> list[dict[str, Any]]:
    with app.app_context():
        ids = db.session.scalars(select(AuditEntry.id).order_by(AuditEntry.seq)).all()
        db.session.remove()
    entries = [audit_entry(app, entry_id) for entry_id in ids]
    return [
        e
        for e in entries
        if e["action"].startswith("feed.push")
        and e["details"].get("subscription") == subscription_id
    ]


class TestReferralPush:
    def test_every_step_reaches_both_sides_in_order(
        self, fresh: Flask, tmp_path: Path, receivers: tuple[Receiver, Receiver]
    ) -> None:
        parties = Parties(fresh, tmp_path)
        to_sender, to_receiver = receivers
        sender_follows = parties.follow(parties.immigration, to_sender.endpoint)
        parties.follow(parties.labour, to_receiver.endpoint)
        worker = build_worker(fresh)
        first = parties.send()
        parties.integrate()
        drain(fresh, worker, lambda: len(to_receiver.events) >= 1 and len(to_sender.events) >= 1)
        parties.whole_life(first)
        second = parties.send()
        parties.take(second, "acknowledged", "acknowledgement")
        parties.integrate()
        drain(fresh, worker, lambda: len(to_receiver.events) >= 6 and len(to_sender.events) >= 6)
        time.sleep(0.3)
        with fresh.app_context():
            while worker.deliver_one():
                pass
            db.session.remove()

        for side in (to_sender, to_receiver):
            assert steps_of(side, first["id"]) == LIFE
            assert steps_of(side, second["id"]) == ["sent", "acknowledged"]
            positions = [e["position"] for e in side.events]
            assert positions == sorted(positions) and len(side.events) == 6
            assert len({e["event_id"] for e in side.events}) == 6
            assert all(e["event_id"].startswith("referral-") for e in side.events)
        taken_by = [(e["step"], e["agency"]) for e in to_sender.events[:4]]
        assert taken_by == [("sent", parties.immigration.agency)] + [
            (s, parties.labour.agency) for s in LIFE[1:]
        ]
        document = subscription(fresh, sender_follows)
        assert document.cursor == to_sender.events[-1]["position"]

        entry = push_entries(fresh, sender_follows)[-1]
        assert entry["action"] == "feed.push" and entry["status"] == 200
        assert entry["details"]["feed"] == "referrals"
        assert entry["details"]["recipient"] == parties.immigration.agency
        assert second["id"] in entry["details"]["referrals"]

    def test_a_third_agency_receives_nothing(
        self, fresh: Flask, tmp_path: Path, receivers: tuple[Receiver, Receiver]
    ) -> None:
        parties = Parties(fresh, tmp_path)
        to_police, to_receiver = receivers
        police_follows = parties.follow(parties.police, to_police.endpoint)
        parties.follow(parties.labour, to_receiver.endpoint)
        parties.whole_life(parties.send())
        parties.integrate()
        worker = build_worker(fresh)
        drain(fresh, worker, lambda: len(to_receiver.events) >= 4)
        with fresh.app_context():
            while worker.deliver_one():
                pass
            db.session.remove()
        assert to_police.events == []
        assert push_entries(fresh, police_follows) == []

    def test_a_failing_receiver_is_retried_and_nothing_is_lost(
        self, fresh: Flask, tmp_path: Path, receivers: tuple[Receiver, Receiver]
    ) -> None:
        parties = Parties(fresh, tmp_path)
        _, to_receiver = receivers
        follows = parties.follow(parties.labour, to_receiver.endpoint)
        worker = build_worker(fresh)
        to_receiver.answer = 503
        sent = parties.send()
        parties.take(sent, "acknowledged", "acknowledgement")
        parties.integrate()
        with fresh.app_context():
            assert worker.deliver_one()
            db.session.remove()
        failing = subscription(fresh, follows)
        assert failing.attempts == 1 and failing.last_error == "HTTP 503"
        assert failing.next_attempt_at is not None
        to_receiver.answer = None
        parties.take(sent, "assigned", "assignment", assignee="労働基準監督官 C")
        parties.integrate()
        drain(fresh, worker, lambda: len(to_receiver.events) >= 3)
        assert steps_of(to_receiver, sent["id"]) == LIFE[:3]
        recovered = subscription(fresh, follows)
        assert recovered.attempts == 0 and recovered.failing_since is None
        attempts = push_entries(fresh, follows)
        assert [e["status"] for e in attempts] == [502, 200, *([200] * (len(attempts) - 2))]
        assert attempts[0]["details"]["error"] == "HTTP 503"
        assert attempts[0]["details"]["attempt"] == 1

        # An outage longer than the retries: the events are parked, then redriven.
        to_receiver.answer = 500
        parties.take(sent, "closed", "closure", outcome="guidance_given", note="指導した。")
        parties.integrate()
        client = fresh.test_client()
        path = f"/api/v1/subscriptions/{follows}"

        def parked() -> bool:
            found = client.get(path, environ_base=parties.labour.environ()).json
            return found is not None and found["dead_letters"] == 1

        drain(fresh, worker, parked)
        to_receiver.answer = None
        redriven = client.post(path + "/redrive", environ_base=parties.labour.environ()).json
        assert redriven == {"redriven": 1}
        drain(fresh, worker, lambda: len(to_receiver.events) >= 4)
        assert steps_of(to_receiver, sent["id"]) == LIFE
        letters = client.get(path + "/dead-letters", environ_base=parties.labour.environ()).json
        assert letters is not None
        assert [letter["state"] for letter in letters["dead_letters"]] == ["delivered"]


class TestFollowingReferrals:
    def test_pushed_only_with_neither_types_nor_filters(self, fresh: Flask, tmp_path: Path) -> None:
        parties = Parties(fresh, tmp_path)
        client = fresh.test_client()
        base = {"name": "r", "feed": "referrals", "mode": "push", "endpoint": "https://a.example"}
        for change, pointer in (
            ({"types": ["broker"]}, "/types"),
            ({"filters": {"country": ["VN"]}}, "/filters"),
            ({"mode": "pull", "endpoint": None}, "/mode"),
        ):
            response = client.post(
                "/api/v1/subscriptions",
                json={**base, **change},
                environ_base=parties.labour.environ(),
            )
            assert response.status_code == 422, response.json
            assert response.json is not None
            assert response.json["errors"][0]["pointer"] == pointer
        created = client.post(
            "/api/v1/subscriptions", json=base, environ_base=parties.labour.environ()
        )
        assert created.status_code == 201
        assert created.json is not None
        assert created.json["feed"] == "referrals" and created.json["types"] == []
        missing = client.post(
            "/api/v1/subscriptions",
            json={"name": "x", "mode": "push", "endpoint": "https://a.example"},
            environ_base=parties.labour.environ(),
        )
        assert missing.status_code == 422
