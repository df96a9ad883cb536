"""Followers waiting for events never take the threads that other requests need."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from exchange.serving import ExchangeServer
from tests.exchange.test_feeds import integrate
from tests.factories import AgencySystem, World
from tests.isolated import isolated_app

THREADS = 4
WAITING = 2
FOLLOWERS = 12
WAIT_SECONDS = 30


@pytest.fixture()
def small(tmp_path: Path) -> Iterator[tuple[Flask, World, ExchangeServer]]:
    with isolated_app(
        tmp_path / "instance",
        EXCHANGE_SERVER_THREADS=THREADS,
        EXCHANGE_WAITING_PULLS=WAITING,
        EXCHANGE_PUSH="off",
    ) as app:
        server = ExchangeServer(app=app, host="127.0.0.1", api_port=0, ui_port=0, threads=THREADS)
        server.start()
        world = World(app, tmp_path / "bundles", api_url=f"https://127.0.0.1:{server.api.port}")
        try:
            yield app, world, server
        finally:
            server.stop()


def _session(caller: AgencySystem) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.cert = (
        str(caller.bundle_dir / "client.pem"),
        str(caller.bundle_dir / "client.key.pem"),
    )
    session.verify = str(caller.bundle_dir / "ca.pem")
    return session


def test_a_publish_goes_through_while_more_pulls_wait_than_there_are_threads(
    small: tuple[Flask, World, ExchangeServer],
) -> None:
    app, world, _ = small
    police = world.agency("police")
    with _session(police) as session:
        created = session.post(
            f"{world.served_at()}/api/v1/subscriptions",
            json={"name": "followers", "types": ["broker"], "mode": "pull"},
        )
        assert created.status_code == 201, created.text
        events_url = f"{world.served_at()}/api/v1/subscriptions/{created.json()['id']}/events"

    answers: list[requests.Response] = []
    lock = threading.Lock()

    def follow() -> None:
        with _session(police) as own:
            answer = own.get(
                events_url,
                params={"wait": WAIT_SECONDS},
                headers={"Exchange-Purpose": "investigation"},
                timeout=WAIT_SECONDS + 30,
            )
        with lock:
            answers.append(answer)

    followers = [threading.Thread(target=follow, daemon=True) for _ in range(FOLLOWERS)]
    for follower in followers:
        follower.start()
    # Those that could not wait have answered: every slot for waiting is taken.
    deadline = threading.Event()
    for _ in range(600):
        with lock:
            if len(answers) >= FOLLOWERS - WAITING:
                break
        deadline.wait(0.05)

    with _session(police) as session:
        # Bounded well below the waiting pulls' own wait: it must not queue behind them.
        published = session.post(
            f"{world.served_at()}/api/v1/records",
            json=police.submission(police.envelope()),
            timeout=WAIT_SECONDS / 2,
        )
    assert published.status_code == 201, published.text
    with lock:
        early: list[Any] = list(answers)
    assert len(early) == FOLLOWERS - WAITING
    assert all(a.status_code == 200 and a.json()["events"] == [] for a in early)
    assert all(a.headers.get("Retry-After") == "1" for a in early)
    # The waiting ones wake with the new record, once it has its feed position.
    integrate(app)
    for follower in followers:
        follower.join(timeout=WAIT_SECONDS + 30)
    woken = [a for a in answers if a.json()["events"]]
    assert len(woken) == WAITING
