"""Publish/subscribe: the pull feed's rate and push delivery's latency.

- **pull**: one subscriber follows the feed over mutual TLS (keep-alive, pages of 1,000)
  through records added by bulk SQL and integrated, beside the bare rate of reading the
  same rows (the feed joined to its versions, keys and agencies) straight from the
  database, without HTTP, in the same run;
- **push**: 50 push subscriptions to endpoints on a receiver process (the SDK's
  ``PushReceiver`` on its own mutual-TLS listener) while records are published at 100 a
  second; the latency of each record to each subscription, from the start of its publish
  to its arrival.
"""

from __future__ import annotations

import http.client
import json
import ssl
import statistics
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import func, select

from benchmarks.auditlog import integrate_backlog
from benchmarks.fill import fill_store
from benchmarks.instance import PROJECT_ROOT
from benchmarks.servers import exchange_server, free_port
from exchange.extensions import db
from exchange.feeds.events import FEED_RANGE
from exchange.feeds.models import FeedPosition
from exchange.pki.vault import load_vault

if TYPE_CHECKING:
    from benchmarks.harness import Bench, Row
    from benchmarks.instance import Caller

PURPOSE = "investigation"
SETTLE_SECONDS = 5.0
WARM_UP_SECONDS = 60.0


def _connection(port: int, caller: Caller) -> http.client.HTTPSConnection:
    context = ssl.create_default_context(cafile=str(caller.ca))
    context.load_cert_chain(str(caller.certificate), str(caller.private_key))
    return http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=60)


def _call(
    connection: http.client.HTTPSConnection,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    sent = {"Content-Type": "application/json", **(headers or {})}
    connection.request(method, path, body=data, headers=sent)
    response = connection.getresponse()
    return response.status, response.read()


def _latest_position(bench: Bench) -> int:
    app = bench.instance.app()
    with app.app_context():
        latest = db.session.scalar(select(func.max(FeedPosition.position))) or 0
        db.session.remove()
        db.engine.dispose()
    return int(latest)


def measure_pull(bench: Bench, count: int) -> list[Row]:
    from benchmarks.harness import Row

    start = _latest_position(bench)
    fill_store(bench.instance, bench.publisher, count)
    integrate_backlog(bench.instance)
    app = bench.instance.app()
    with app.app_context():
        connection = db.session.connection()
        began = time.perf_counter()
        rows = 0
        after = start
        position = FeedPosition.__table__.c.position
        end = int(db.session.scalar(select(func.max(position))) or 0)
        while after < end:
            # As the feed reads them: bounded ranges of the gap-free positions.
            page = connection.execute(
                FEED_RANGE, {"after": after, "upper": min(end, after + 1000)}
            ).all()
            rows += len(page)
            after += 1000
        bare = rows / (time.perf_counter() - began)
        db.session.remove()
        db.engine.dispose()
    with bench.exchange("feed-pull") as server:
        client = _connection(server.port, bench.reader)
        status, body = _call(
            client,
            "POST",
            "/api/v1/subscriptions",
            {"name": "bench", "types": ["broker", "school", "illegal_employment"], "mode": "pull"},
        )
        assert status == 201, body
        subscription = orjson.loads(body)["id"]
        events, cursor = 0, start
        began = time.perf_counter()
        while True:
            status, body = _call(
                client,
                "GET",
                f"/api/v1/subscriptions/{subscription}/events?after={cursor}&limit=1000",
                headers={"Exchange-Purpose": PURPOSE},
            )
            assert status == 200, body[:300]
            page = orjson.loads(body)
            events += len(page["events"])
            if page["next_cursor"] == cursor:
                break
            cursor = page["next_cursor"]
        elapsed = time.perf_counter() - began
        client.close()
    rate = events / elapsed
    return [
        Row(
            "feed",
            f"pull: {events:,} events, pages of 1,000, one subscriber, mTLS",
            f"{rate:,.0f} events/s",
            f"{bare:,.0f} rows/s bare read",
            rate / bare,
            "",
            "",
            ">= 10,000/s",
            rate >= 10_000,
        )
    ]


def measure_push(
    bench: Bench, *, subscriptions: int, rate: float, seconds: float, worker: bool
) -> list[Row]:
    """``worker``: delivery in an ``exchange worker`` process instead of inside the server."""
    from benchmarks.harness import Row

    root = bench.root / "push-receiver"
    root.mkdir(exist_ok=True)
    app = bench.instance.app()
    with app.app_context():
        vault = load_vault()
        certificate, key_pem = vault.ca.issue_server_certificate(
            hostnames=["localhost"], ip_addresses=["127.0.0.1"]
        )
        (root / "jwks.json").write_text(json.dumps(vault.jwks()))
        ca_path = vault.ca_path
        db.engine.dispose()
    (root / "receiver.pem").write_text(certificate.certificate_pem)
    (root / "receiver.key.pem").write_text(key_pem)

    port = free_port()
    receiver = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.receiver",
            "--port",
            str(port),
            "--certificate",
            str(root / "receiver.pem"),
            "--private-key",
            str(root / "receiver.key.pem"),
            "--client-ca",
            str(ca_path),
            "--jwks",
            str(root / "jwks.json"),
            "--out",
            str(root / "arrivals.json"),
        ],
        stdout=subprocess.PIPE,
        cwd=str(PROJECT_ROOT),
        env=bench.instance.environment(),
    )
    assert receiver.stdout is not None
    assert receiver.stdout.readline().startswith(b"receiver ready")
    published: dict[str, float] = {}
    maker = bench.maker()
    environment = {"EXCHANGE_PUSH": "off"} if worker else {}
    delivering = None
    try:
        with exchange_server(
            bench.instance, threads=bench.options.threads, environment=environment
        ) as server:
            if worker:
                delivering = subprocess.Popen(
                    [sys.executable, "-m", "exchange", "worker"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    cwd=str(PROJECT_ROOT),
                    env=bench.instance.environment(),
                )
            subscriber = _connection(server.port, bench.reader)
            # Each subscription's cursor when it was created.
            created: dict[str, int] = {}
            for number in range(subscriptions):
                status, body = _call(
                    subscriber,
                    "POST",
                    "/api/v1/subscriptions",
                    {
                        "name": f"push {number}",
                        "types": ["broker", "school", "illegal_employment"],
                        "mode": "push",
                        "endpoint": f"https://127.0.0.1:{port}/s/{number}",
                    },
                )
                assert status == 201, body
                created[orjson.loads(body)["id"]] = orjson.loads(body)["cursor"]
            publisher = _connection(server.port, bench.publisher)
            _warm_up(publisher, subscriber, maker.submission(open_audience=True), created)
            bodies = [maker.submission(open_audience=True) for _ in range(int(rate * seconds))]
            began = time.time()
            for number, submission in enumerate(bodies):
                due = began + number / rate
                pause = due - time.time()
                if pause > 0:
                    time.sleep(pause)
                sent = time.time()
                status, body = _call(publisher, "POST", "/api/v1/records", submission)
                assert status == 201, body[:300]
                published[submission["record"]["id"]] = sent
            publisher.close()
            # Arrivals are known when the receiver stops: the last ones get time to land.
            time.sleep(SETTLE_SECONDS)
            # Ended, so that a later measurement does not deliver to this receiver.
            subscriber.close()
            subscriber = _connection(server.port, bench.reader)
            for subscription in created:
                _call(subscriber, "DELETE", f"/api/v1/subscriptions/{subscription}")
            subscriber.close()
    finally:
        if delivering is not None:
            delivering.terminate()
            delivering.wait(timeout=30)
        receiver.terminate()
        receiver.wait(timeout=30)
    arrivals = json.loads((root / "arrivals.json").read_text())
    latencies = [
        arrived - published[record_id]
        for _, record_id, arrived in arrivals
        if record_id in published
    ]
    delivered = len(
        {(path, record_id) for path, record_id, _ in arrivals if record_id in published}
    )
    p95 = statistics.quantiles(latencies, n=20)[-1] if len(latencies) > 20 else max(latencies)
    p50 = statistics.median(latencies)
    return [
        Row(
            "feed",
            f"push{' (exchange worker process)' if worker else ' (inside the server)'}: "
            f"{subscriptions} subscriptions, {rate:.0f} records/s for {seconds:.0f} s; "
            f"{delivered:,} of {len(published) * subscriptions:,} deliveries",
            f"p95 {p95 * 1e3:,.0f} ms",
            "",
            None,
            f"{p50 * 1e3:,.0f}/{p95 * 1e3:,.0f}",
            "",
            "p95 < 1 s",
            p95 < 1.0 and delivered == len(published) * subscriptions,
        )
    ]


def _warm_up(
    publisher: http.client.HTTPSConnection,
    subscriber: http.client.HTTPSConnection,
    submission: dict[str, Any],
    subscriptions: dict[str, int],
) -> None:
    """One record delivered to every subscription before the clock starts.

    The latency measured is that of steady delivery, not of a delivery process starting
    up or first noticing its new subscriptions.
    """
    status, body = _call(publisher, "POST", "/api/v1/records", submission)
    assert status == 201, body[:300]
    deadline = time.monotonic() + WARM_UP_SECONDS
    waiting = set(subscriptions)
    while waiting and time.monotonic() < deadline:
        status, body = _call(subscriber, "GET", "/api/v1/subscriptions")
        assert status == 200, body[:300]
        for document in orjson.loads(body)["subscriptions"]:
            if document["id"] in waiting and document["cursor"] > subscriptions[document["id"]]:
                waiting.discard(document["id"])
        time.sleep(0.05)
    assert not waiting, f"{len(waiting)} subscriptions got nothing in {WARM_UP_SECONDS} s"


def measure_feeds(bench: Bench) -> list[Row]:
    quick = bench.options.quick
    rows = measure_pull(bench, 5_000 if quick else 50_000)
    for worker in (False, True):
        rows += measure_push(
            bench,
            subscriptions=10 if quick else 50,
            rate=20 if quick else 100,
            seconds=3 if quick else 10,
            worker=worker,
        )
    return rows
