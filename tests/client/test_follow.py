"""Following a subscription's pull feed against the real exchange, over mutual TLS.

Each test has its own publishing agency, so that its subscription (filtered by publisher)
sees only the records the test publishes, whatever else the session's exchange holds.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from exchange.cli import main
from exchange.client.feeds import (
    CursorFileError,
    FeedEvent,
    Stop,
    create_subscription,
    delete_subscription,
    follow,
    get_subscription,
    list_subscriptions,
    set_state,
)
from exchange.client.sdk import ExchangeClient, ExchangeError, VerificationError
from exchange.clock import utcnow
from exchange.extensions import db
from exchange.serving import ExchangeServer
from exchange.trail.integrator_process import build_integrator
from tests.factories import AgencySystem, World, iso

pytestmark = pytest.mark.skipif(
    find_spec("exchange.feeds.api") is None,
    reason="the exchange does not serve subscriptions yet (no exchange/feeds/api.py)",
)

PURPOSE = "investigation"


def integrate(app: Flask) -> None:
    # The sequencer gives committed versions their feed positions moments after a publish;
    # the tests run it at once instead of waiting for it.
    with app.app_context():
        build_integrator(app).integrate(checkpoint=True)
        db.session.remove()


def publish(app: Flask, system: AgencySystem, *envelopes: dict[str, Any]) -> None:
    with system.client() as exchange:
        for envelope in envelopes:
            exchange.publish(envelope)
    integrate(app)


def once() -> bool:
    return True


def pull(
    exchange: ExchangeClient,
    subscription: dict[str, Any],
    *,
    cursor_file: Path | None = None,
    stop: Stop = once,
    limit: int = 100,
) -> list[FeedEvent]:
    """What is in the feed now: no long poll, one page unless ``stop`` says otherwise."""
    events: list[FeedEvent] = []
    for event in follow(
        exchange,
        subscription["id"],
        purpose=PURPOSE,
        cursor_file=cursor_file,
        wait=0,
        limit=limit,
        stop=stop,
    ):
        events.append(event)
    return events


@pytest.fixture()
def publisher(world: World, server: ExchangeServer) -> AgencySystem:
    return world.agency("immigration")


@pytest.fixture(scope="module")
def subscriber(world: World, server: ExchangeServer) -> AgencySystem:
    return world.agency("police")


@pytest.fixture()
def reader(subscriber: AgencySystem) -> Iterator[ExchangeClient]:
    with subscriber.client() as exchange:
        yield exchange


@pytest.fixture()
def subscription(reader: ExchangeClient, publisher: AgencySystem) -> dict[str, Any]:
    return create_subscription(
        reader,
        name=f"brokers of {publisher.agency}",
        types=["broker"],
        filters={"publisher": [publisher.agency]},
    )


def record_ids(events: list[FeedEvent]) -> list[tuple[str, int]]:
    return [(e.record.record["id"], e.record.record["version"]) for e in events]


class TestFollow:
    def test_resumes_from_the_cursor_file_without_repeats(
        self,
        app: Flask,
        publisher: AgencySystem,
        subscriber: AgencySystem,
        subscription: dict[str, Any],
        tmp_path: Path,
    ) -> None:
        cursor_file = tmp_path / "state" / "cursor.json"
        first = [publisher.envelope("broker") for _ in range(3)]
        publish(app, publisher, *first)
        with subscriber.client() as exchange:
            seen = pull(exchange, subscription, cursor_file=cursor_file)
        assert record_ids(seen) == [(e["id"], 1) for e in first]
        assert [e.kind for e in seen] == ["created"] * 3
        saved = json.loads(cursor_file.read_text())
        assert saved["subscription"] == subscription["id"]
        assert saved["cursor"] >= seen[-1].position

        amended = dict(first[0], version=2, issued_at=iso(utcnow()))
        withdrawn = dict(first[1], version=2, status="withdrawn", reason="誤登録")
        withdrawn["issued_at"] = iso(utcnow())
        later = publisher.envelope("broker")
        publish(app, publisher, amended, withdrawn, later)
        # A restarted system: a new connection, the position from the file alone.
        with subscriber.client() as exchange:
            # One event a page: the cursor is saved and acknowledged page by page.
            pages = itertools.count(1)
            resumed = pull(
                exchange,
                subscription,
                cursor_file=cursor_file,
                limit=1,
                stop=lambda: next(pages) == 3,
            )
            assert record_ids(resumed) == [
                (first[0]["id"], 2),
                (first[1]["id"], 2),
                (later["id"], 1),
            ]
            assert [e.kind for e in resumed] == ["amended", "withdrawn", "created"]
            assert not {e.event_id for e in seen} & {e.event_id for e in resumed}
            positions = [e.position for e in seen + resumed]
            assert positions == sorted(positions)

            assert pull(exchange, subscription, cursor_file=cursor_file) == []

    def test_every_event_is_verified_from_public_keys(
        self,
        app: Flask,
        publisher: AgencySystem,
        reader: ExchangeClient,
        subscription: dict[str, Any],
    ) -> None:
        envelope = publisher.envelope("broker")
        publish(app, publisher, envelope)
        (event,) = pull(reader, subscription)
        assert event.record.record == envelope
        assert event.record.kid == publisher.kid
        assert event.record.receipt.record_id == envelope["id"]
        assert event.record.key_status == "active"
        assert event.record.key_compromised is False
        assert event.event_id == str(event.position)

    def test_without_a_cursor_file_the_acknowledged_cursor_resumes(
        self,
        app: Flask,
        publisher: AgencySystem,
        reader: ExchangeClient,
        subscription: dict[str, Any],
    ) -> None:
        first, second = publisher.envelope("broker"), publisher.envelope("broker")
        publish(app, publisher, first)
        stop = threading.Event()
        stop.set()
        (event,) = pull(reader, subscription, stop=stop)
        assert event.record.record["id"] == first["id"]
        assert get_subscription(reader, subscription["id"])["cursor"] >= event.position

        publish(app, publisher, second)
        assert record_ids(pull(reader, subscription, stop=stop)) == [(second["id"], 1)]

    def test_a_cursor_file_of_another_subscription_is_refused(
        self,
        reader: ExchangeClient,
        publisher: AgencySystem,
        subscription: dict[str, Any],
        tmp_path: Path,
    ) -> None:
        cursor_file = tmp_path / "cursor.json"
        other = create_subscription(reader, name="other", types=["broker"])
        cursor_file.write_text(json.dumps({"subscription": other["id"], "cursor": 1}))
        with pytest.raises(CursorFileError):
            pull(reader, subscription, cursor_file=cursor_file)

    def test_a_record_signed_after_its_key_was_retired_stops_the_follower(
        self,
        app: Flask,
        publisher: AgencySystem,
        reader: ExchangeClient,
        subscription: dict[str, Any],
        tmp_path: Path,
    ) -> None:
        # The exchange accepts an issued_at within its clock skew, while the key is active;
        # once the key is retired before that issued_at, nobody can tell the record was
        # signed while the key was valid, and a reader must not trust it.
        cursor_file = tmp_path / "cursor.json"
        envelope = publisher.envelope("broker", now=utcnow() + timedelta(seconds=60))
        publish(app, publisher, envelope)
        with publisher.client() as exchange:
            exchange.request("POST", f"/api/v1/keys/{publisher.kid}/retire")
        with pytest.raises(VerificationError, match="retired_at"):
            pull(reader, subscription, cursor_file=cursor_file)
        # The cursor did not move past it: the follower stops there again until resolved.
        assert not cursor_file.exists()

    def test_a_compromised_key_is_flagged(
        self,
        app: Flask,
        publisher: AgencySystem,
        reader: ExchangeClient,
        subscription: dict[str, Any],
    ) -> None:
        envelope = publisher.envelope("broker")
        publish(app, publisher, envelope)
        with publisher.client() as exchange:
            exchange.request(
                "POST",
                f"/api/v1/keys/{publisher.kid}/revoke",
                json={"compromised_at": iso(utcnow() - timedelta(hours=1))},
            )
        (event,) = pull(reader, subscription)
        assert event.record.key_status == "revoked"
        assert event.record.key_compromised is True


class TestSubscriptions:
    def test_list_pause_resume_delete(
        self, reader: ExchangeClient, subscription: dict[str, Any]
    ) -> None:
        assert subscription["state"] == "active" and subscription["mode"] == "pull"
        listed = {s["id"] for s in list_subscriptions(reader)}
        assert subscription["id"] in listed
        assert set_state(reader, subscription["id"], state="paused")["state"] == "paused"
        assert get_subscription(reader, subscription["id"])["state"] == "paused"
        assert set_state(reader, subscription["id"], state="active")["state"] == "active"
        delete_subscription(reader, subscription["id"])
        with pytest.raises(ExchangeError) as refused:
            get_subscription(reader, subscription["id"])
        assert refused.value.status == 404


class TestCommandLine:
    def test_subscribe_list_and_follow(
        self,
        app: Flask,
        world: World,
        publisher: AgencySystem,
        subscriber: AgencySystem,
        tmp_path: Path,
    ) -> None:
        runner = CliRunner()
        base = ["client", "--url", world.served_at(), "--bundle", str(subscriber.bundle_dir)]
        result = runner.invoke(
            main,
            [
                *base,
                "subscribe",
                "--name",
                "cli",
                "--type",
                "broker",
                "--publisher",
                publisher.agency,
            ],
        )
        assert result.exit_code == 0, result.output
        created = json.loads(result.output)
        assert created["filters"] == {"publisher": [publisher.agency]}

        result = runner.invoke(main, [*base, "subscriptions"])
        assert result.exit_code == 0, result.output
        assert created["id"] in {s["id"] for s in json.loads(result.output)}

        envelope = publisher.envelope("broker")
        publish(app, publisher, envelope)
        follow_command = [
            *base,
            "follow",
            created["id"],
            "--purpose",
            PURPOSE,
            "--once",
            "--cursor-file",
            str(tmp_path / "cursor.json"),
        ]
        result = runner.invoke(main, follow_command)
        assert result.exit_code == 0, result.output
        (line,) = [json.loads(text) for text in result.output.splitlines()]
        assert line["record"] == envelope and line["kind"] == "created"
        assert line["verified"]["signature"] is True
        assert line["verified"]["kid"] == publisher.kid
        assert line["event_id"] == str(line["position"])

        result = runner.invoke(main, follow_command)
        assert result.exit_code == 0 and result.output == ""
