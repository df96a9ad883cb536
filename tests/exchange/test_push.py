"""Push delivery over real sockets: a receiver with its own certificate, outages, dead
letters and redrive, a revoked subscriber, a worker killed in the middle of a batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from exchange.extensions import db
from exchange.feeds.delivery import PushWorker
from exchange.feeds.running import build_worker
from exchange.trail.integrator_process import build_integrator
from tests.exchange.helpers import audit_entry
from tests.exchange.push_receiver import Receiver, start_receiver
from tests.factories import AgencySystem, World
from tests.isolated import isolated_app

ROOT = Path(__file__).resolve().parents[2]
FAST_RETRIES = {
    "EXCHANGE_PUSH_BASE_BACKOFF": 0.02,
    "EXCHANGE_PUSH_MAX_BACKOFF": 0.1,
    "EXCHANGE_PUSH_MAX_ATTEMPTS": 3,
    "EXCHANGE_PUSH_TIMEOUT": 3.0,
}


@pytest.fixture()
def fresh(tmp_path: Path) -> Iterator[Flask]:
    with isolated_app(tmp_path / "instance", **FAST_RETRIES) as app:
        yield app


@pytest.fixture()
def receiver(fresh: Flask, tmp_path: Path) -> Iterator[Receiver]:
    found = start_receiver(fresh, tmp_path / "receiver")
    yield found
    found.stop()


def publish(app: Flask, caller: AgencySystem, count: int) -> list[str]:
    client, ids = app.test_client(), []
    for _ in range(count):
        envelope = caller.envelope("broker")
        response = client.post(
            "/api/v1/records", json=caller.submission(envelope), environ_base=caller.environ()
        )
        assert response.status_code == 201, response.json
        ids.append(envelope["id"])
    with app.app_context():
        build_integrator(app).integrate(checkpoint=True)
        db.session.remove()
    return ids


def subscribe_push(app: Flask, caller: AgencySystem, endpoint: str) -> str:
    response = app.test_client().post(
        "/api/v1/subscriptions",
        json={"name": "push", "types": ["broker"], "mode": "push", "endpoint": endpoint},
        environ_base=caller.environ(),
    )
    assert response.status_code == 201, response.json
    return str(response.json["id"])  # type: ignore[index]


def drain(app: Flask, worker: PushWorker, until: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    with app.app_context():
        while not until():
            assert time.monotonic() < deadline, "deliveries did not arrive in time"
            if not worker.deliver_one():
                time.sleep(0.02)
        db.session.remove()


def received_ids(receiver: Receiver) -> list[str]:
    return receiver.received_ids()


def _agencies(fresh: Flask, tmp_path: Path) -> tuple[AgencySystem, AgencySystem]:
    world = World(fresh, tmp_path / "bundles")
    return world.agency("immigration"), world.agency("police")


class TestPush:
    def test_everything_arrives_in_order_across_an_outage(
        self, fresh: Flask, tmp_path: Path, receiver: Receiver
    ) -> None:
        publisher, subscriber = _agencies(fresh, tmp_path)
        subscription = subscribe_push(fresh, subscriber, receiver.endpoint)
        worker = build_worker(fresh)
        first = publish(fresh, publisher, 4)
        drain(fresh, worker, lambda: len(receiver.events) >= 4)
        receiver.stop()
        second = publish(fresh, publisher, 5)
        with fresh.app_context():
            for _ in range(2):
                worker.deliver_one()
                time.sleep(0.15)
            db.session.remove()
        receiver.start()
        drain(fresh, worker, lambda: len(receiver.events) >= 9)
        assert received_ids(receiver) == first + second
        positions = [event["position"] for event in receiver.events]
        assert positions == sorted(positions) and len(set(positions)) == 9
        document = (
            fresh.test_client()
            .get(f"/api/v1/subscriptions/{subscription}", environ_base=subscriber.environ())
            .json
        )
        assert document is not None and document["cursor"] == positions[-1]
        assert document["failing_since"] is None

    def test_deliveries_are_audited_with_the_versions_they_carried(
        self, fresh: Flask, tmp_path: Path, receiver: Receiver
    ) -> None:
        publisher, subscriber = _agencies(fresh, tmp_path)
        subscribe_push(fresh, subscriber, receiver.endpoint)
        ids = publish(fresh, publisher, 3)
        drain(fresh, build_worker(fresh), lambda: len(receiver.events) >= 3)
        with fresh.app_context():
            from sqlalchemy import text

            rows = db.session.execute(
                text("SELECT id FROM audit_entry ORDER BY seq DESC LIMIT 1")
            ).all()
            db.session.remove()
        entry = audit_entry(fresh, rows[0][0])
        assert entry["action"] == "feed.push" and entry["status"] == 200
        assert [t["id"] for t in entry["targets"]] == ids
        assert entry["details"]["recipient"] == subscriber.agency

    def test_a_failing_receiver_ends_in_dead_letters_and_is_redriven(
        self, fresh: Flask, tmp_path: Path, receiver: Receiver
    ) -> None:
        publisher, subscriber = _agencies(fresh, tmp_path)
        subscription = subscribe_push(fresh, subscriber, receiver.endpoint)
        client = fresh.test_client()
        path = f"/api/v1/subscriptions/{subscription}"
        receiver.answer = 500
        ids = publish(fresh, publisher, 3)

        def parked() -> bool:
            document = client.get(path, environ_base=subscriber.environ()).json
            return document is not None and document["dead_letters"] == 3

        drain(fresh, build_worker(fresh), parked)
        letters = client.get(path + "/dead-letters", environ_base=subscriber.environ()).json
        assert letters is not None
        assert [letter["state"] for letter in letters["dead_letters"]] == ["parked"] * 3
        assert "HTTP 500" in letters["dead_letters"][0]["reason"]
        receiver.answer = None
        redriven = client.post(path + "/redrive", environ_base=subscriber.environ()).json
        assert redriven == {"redriven": 3}
        drain(fresh, build_worker(fresh), lambda: len(receiver.events) >= 3)
        assert received_ids(receiver) == ids
        letters = client.get(path + "/dead-letters", environ_base=subscriber.environ()).json
        assert letters is not None
        assert [letter["state"] for letter in letters["dead_letters"]] == ["delivered"] * 3

    def test_the_operator_redrives_from_the_command_line(
        self, fresh: Flask, tmp_path: Path, receiver: Receiver
    ) -> None:
        publisher, subscriber = _agencies(fresh, tmp_path)
        subscription = subscribe_push(fresh, subscriber, receiver.endpoint)
        receiver.answer = 503
        publish(fresh, publisher, 2)
        worker = build_worker(fresh)
        runner = fresh.test_cli_runner()

        def parked() -> bool:
            result = runner.invoke(args=["subscription", "dead-letters", subscription])
            return result.output.count('"parked"') == 2

        drain(fresh, worker, parked)
        receiver.answer = None
        result = runner.invoke(args=["subscription", "redrive", subscription])
        assert result.exit_code == 0 and "2 events redriven" in result.output
        drain(fresh, worker, lambda: len(receiver.events) >= 2)

    def test_a_revoked_subscriber_receives_nothing(
        self, fresh: Flask, tmp_path: Path, receiver: Receiver
    ) -> None:
        publisher, subscriber = _agencies(fresh, tmp_path)
        subscription = subscribe_push(fresh, subscriber, receiver.endpoint)
        result = fresh.test_cli_runner().invoke(
            args=["cert", "revoke", subscriber.fingerprint, "--reason", "key_compromise"]
        )
        assert result.exit_code == 0, result.output
        publish(fresh, publisher, 2)
        worker = build_worker(fresh)
        with fresh.app_context():
            for _ in range(3):
                worker.deliver_one()
            from exchange.feeds.models import Subscription

            found = db.session.get(Subscription, subscription)
            assert found is not None and "no valid certificate" in (found.last_error or "")
            db.session.remove()
        assert receiver.events == []

    def test_a_worker_killed_mid_batch_loses_nothing(
        self, fresh: Flask, tmp_path: Path, receiver: Receiver
    ) -> None:
        publisher, subscriber = _agencies(fresh, tmp_path)
        subscribe_push(fresh, subscriber, receiver.endpoint)
        ids = publish(fresh, publisher, 3)
        receiver.delay = 3.0
        environment = dict(
            os.environ,
            EXCHANGE_INSTANCE_PATH=fresh.instance_path,
            EXCHANGE_DATABASE_URL=str(fresh.config["EXCHANGE_DATABASE_URL"]),
            EXCHANGE_KEY_PASSPHRASE="test passphrase",
            PYTHONPATH=str(ROOT),
        )
        worker = subprocess.Popen(
            [sys.executable, "-m", "exchange", "worker", "--threads", "1"],
            env=environment,
            cwd=str(ROOT),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 20
            while not _connected(receiver.port):
                assert time.monotonic() < deadline and worker.poll() is None
                time.sleep(0.05)
            time.sleep(0.3)
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
        finally:
            if worker.poll() is None:
                worker.kill()
        assert receiver.events == []
        receiver.delay = 0.0
        drain(fresh, build_worker(fresh), lambda: len(receiver.events) >= 3)
        assert received_ids(receiver)[:3] == ids


def _connected(port: int) -> bool:
    """True once a TCP connection to the receiver is established by someone else."""
    result = subprocess.run(
        ["ss", "-Htn", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        check=False,
    )
    return bool(result.stdout.strip())
