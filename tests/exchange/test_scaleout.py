"""PostgreSQL scale-out: two serving nodes, two integrators and two push workers, all as
the least-privileged role, while the active integrator and a delivering worker are killed.

The second node's instance folder holds a copy of the first one's ``keys/`` and nothing
else: what the README says nodes must share.
"""

from __future__ import annotations

import base64
import itertools
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from audit.checkpoint import Checkpoint
from audit.merkle import leaf_hash, root_from_leaf_hashes, verify_consistency
from audit.note import open_note
from exchange.client.sdk import ExchangeClient
from exchange.extensions import db
from exchange.pki.vault import load_vault
from exchange.trail.integrator_process import ADVISORY_CLASS, log_origin
from tests.exchange.processes import ExchangeProcess, environment, free_port
from tests.exchange.push_receiver import Receiver, start_receiver
from tests.factories import AgencySystem, World
from tests.isolated import isolated_app, owner_url, serving_role

URL = os.environ.get("EXCHANGE_TEST_DATABASE_URL", "")

pytestmark = pytest.mark.skipif(
    not URL.startswith("postgresql"), reason="scale-out runs on PostgreSQL"
)

PUBLISHERS = 4
# Generous bounds for a loaded two-core machine; none of them is a timing assertion but
# the takeover's "within a few seconds".
TAKEOVER_SECONDS = 15
SETTLE_SECONDS = 90
MAX_RECORDS_PER_CLIENT = 1000


def wait_until(condition: Callable[[], bool], what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds:.0f}s: {what}"
        time.sleep(0.1)


def query(owner: Engine, statement: str, **params: Any) -> list[tuple[Any, ...]]:
    """The test's own look at the database, as the owner, beside the processes."""
    with owner.connect() as connection:
        return [tuple(row) for row in connection.execute(text(statement), params)]


def integrator_lock_holders(owner: Engine) -> list[tuple[Any, ...]]:
    """(backend pid, role) of the session holding this exchange's integrator lock."""
    return query(
        owner,
        "SELECT l.pid, a.usename FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND l.classid::bigint = :class "
        "AND l.objid::bigint = (hashtext(current_schema())::bigint & 4294967295)",
        **{"class": ADVISORY_CLASS},
    )


def feed_listeners(owner: Engine) -> list[tuple[Any, ...]]:
    return query(
        owner,
        "SELECT pid, usename FROM pg_stat_activity "
        "WHERE datname = current_database() AND query = 'LISTEN exchange_feed'",
    )


@dataclass
class Publishing:
    """Clients publishing to both nodes until told to stop."""

    clients: list[ExchangeClient]
    published: list[str] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, publishers: list[AgencySystem]) -> None:
        for client, publisher in zip(self.clients, publishers, strict=True):
            thread = threading.Thread(target=self._publish, args=(client, publisher))
            thread.start()
            self.threads.append(thread)

    def _publish(self, client: ExchangeClient, publisher: AgencySystem) -> None:
        try:
            for _ in range(MAX_RECORDS_PER_CLIENT):
                if self.stop.is_set():
                    return
                envelope = publisher.envelope("broker")
                client.publish(envelope)  # checks the receipt against the node's keys
                with self._lock:
                    self.published.append(envelope["id"])
                time.sleep(0.02)
        except BaseException as error:
            self.errors.append(error)

    def count(self) -> int:
        """Records published so far; raises what a client met, if it failed."""
        for error in self.errors:
            raise AssertionError(f"a client failed: {error!r}") from error
        with self._lock:
            return len(self.published)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in self.threads)
        assert self.errors == []


@pytest.fixture()
def fresh(tmp_path: Path) -> Iterator[Flask]:
    with isolated_app(tmp_path / "node1") as app:
        yield app


@pytest.fixture()
def owner(fresh: Flask) -> Iterator[Engine]:
    engine = create_engine(owner_url(fresh).replace("postgresql://", "postgresql+psycopg://", 1))
    yield engine
    engine.dispose()


class TestScaleOut:
    def test_two_nodes_survive_a_killed_integrator_and_a_killed_worker(
        self, fresh: Flask, owner: Engine, tmp_path: Path
    ) -> None:
        role = serving_role(URL)
        node1 = Path(fresh.instance_path)
        node2 = tmp_path / "node2"
        shutil.copytree(node1 / "keys", node2 / "keys")
        logs = tmp_path / "logs"
        settings = {"EXCHANGE_INTEGRATOR": "off", "EXCHANGE_PUSH": "off"}
        env1 = environment(node1, fresh, **settings)
        env2 = environment(node2, fresh, **settings)

        world = World(fresh, tmp_path / "bundles")
        publishers = [world.agency("immigration") for _ in range(PUBLISHERS)]
        subscriber = world.agency("police")
        receiver = start_receiver(fresh, tmp_path / "receiver")
        receiver.hold = threading.Event()
        subscription = _subscribe(fresh, subscriber, receiver)

        processes: list[ExchangeProcess] = []

        def start(name: str, arguments: list[str], env: dict[str, str]) -> ExchangeProcess:
            process = ExchangeProcess(name, arguments, env, logs)
            processes.append(process)
            return process

        publishing: Publishing | None = None
        clients: list[ExchangeClient] = []
        try:
            urls = []
            for name, env in (("node1", env1), ("node2", env2)):
                ports = ["--api-port", str(free_port()), "--ui-port", str(free_port())]
                ports += ["--ops-port", "0"]
                node = start(name, ["serve", "--threads", "4", *ports], env)
                (url,) = node.wait_for(r"API \(mutual TLS\): (https://[^/]+)/api/v1/")
                urls.append(url)
            integrator_a = start("integrator-a", ["integrator"], env1)
            wait_until(lambda: bool(integrator_lock_holders(owner)), "integrator A active", 60)
            start("integrator-b", ["integrator"], env2)
            worker_a = start("worker-a", ["worker", "--threads", "2"], env1)

            clients = [
                ExchangeClient.from_bundle(p.bundle_dir, base_url=urls[i % 2])
                for i, p in enumerate(publishers)
            ]
            publishing = Publishing(clients)
            publishing.start(publishers)

            # Worker A takes the subscription's first batch, and the receiver holds it.
            wait_until(lambda: receiver.held >= 1, "a delivery in flight", 60)
            worker_b = start("worker-b", ["worker", "--threads", "2"], env2)
            wait_until(lambda: len(feed_listeners(owner)) >= 2, "worker B listening", 60)

            wait_until(lambda: _checkpoints(owner) >= 2, "checkpoints by integrator A", 60)
            (holder_before,) = integrator_lock_holders(owner)
            integrator_a.kill()
            killed_at = time.monotonic()
            published_at_kill = publishing.count()

            worker_a.kill()
            receiver.hold.set()

            wait_until(
                lambda: (
                    [h[0] for h in integrator_lock_holders(owner)] not in ([], [holder_before[0]])
                ),
                "integrator B takes over",
                TAKEOVER_SECONDS,
            )
            assert time.monotonic() - killed_at < TAKEOVER_SECONDS
            # Publishing goes on under the new integrator before it stops.
            running = publishing
            wait_until(
                lambda: running.count() >= published_at_kill + 20,
                "publishes after the takeover",
                SETTLE_SECONDS,
            )
            publishing.finish()
            published = publishing.published
            assert len(set(published)) == len(published) > published_at_kill

            wait_until(
                lambda: set(receiver.received_ids()) >= set(published),
                "every event pushed",
                SETTLE_SECONDS,
            )
            # Deliveries are audited too: once they are done, the log comes to rest.
            wait_until(lambda: _fully_integrated(owner), "every entry integrated", SETTLE_SECONDS)

            holders = integrator_lock_holders(owner)
            assert [usename for _, usename in holders] == [role]
            assert {usename for _, usename in feed_listeners(owner)} == {role}
            assert worker_b.process.poll() is None
            _assert_one_leaf_per_entry(owner)
            _assert_feed_once_per_version(owner, published)
            _assert_checkpoints_consistent(fresh, owner, clients[0])
            document = clients[0].request("GET", "/api/v1/audit/checkpoint")
            assert document.startswith(log_origin(fresh))
            state = (
                fresh.test_client()
                .get(f"/api/v1/subscriptions/{subscription}", environ_base=subscriber.environ())
                .json
            )
            assert state is not None
            ((last,),) = query(owner, "SELECT max(position) FROM record_feed")
            assert state["cursor"] == last and state["dead_letters"] == 0
        finally:
            if publishing is not None:
                publishing.stop.set()
            receiver.stop()
            for process in reversed(processes):
                process.stop()
            for client in clients:
                client.close()


def _subscribe(app: Flask, subscriber: AgencySystem, receiver: Receiver) -> str:
    response = app.test_client().post(
        "/api/v1/subscriptions",
        json={"name": "push", "types": ["broker"], "mode": "push", "endpoint": receiver.endpoint},
        environ_base=subscriber.environ(),
    )
    assert response.status_code == 201, response.json
    return str(response.json["id"])  # type: ignore[index]


def _checkpoints(owner: Engine) -> int:
    ((count,),) = query(owner, "SELECT count(*) FROM audit_checkpoint")
    return int(count)


def _fully_integrated(owner: Engine) -> bool:
    """Every committed entry has its leaf and the latest checkpoint covers them all.

    The workers keep auditing deliveries, so this holds once they are idle too."""
    ((entries, leaves, signed),) = query(
        owner,
        "SELECT (SELECT count(*) FROM audit_entry), (SELECT count(*) FROM audit_leaf), "
        "(SELECT coalesce(max(size), 0) FROM audit_checkpoint)",
    )
    return bool(entries == leaves == signed)


def _assert_one_leaf_per_entry(owner: Engine) -> None:
    rows = query(
        owner,
        "SELECT l.leaf_index, l.entry_seq, e.canonical FROM audit_leaf l "
        "JOIN audit_entry e ON e.seq = l.entry_seq ORDER BY l.leaf_index",
    )
    entries = {seq for (seq,) in query(owner, "SELECT seq FROM audit_entry")}
    assert [index for index, _, _ in rows] == list(range(len(rows)))
    assert sorted(seq for _, seq, _ in rows) == sorted(entries)
    ((size, root),) = query(
        owner, "SELECT size, root FROM audit_checkpoint ORDER BY size DESC LIMIT 1"
    )
    assert size == len(rows)
    assert bytes(root) == root_from_leaf_hashes([leaf_hash(bytes(c)) for _, _, c in rows])


def _assert_feed_once_per_version(owner: Engine, published: list[str]) -> None:
    rows = query(
        owner,
        "SELECT f.position, r.id FROM record_feed f JOIN record r ON r.pk = f.record_pk "
        "ORDER BY f.position",
    )
    assert [position for position, _ in rows] == list(range(1, len(rows) + 1))
    assert sorted(record_id for _, record_id in rows) == sorted(published)


def _assert_checkpoints_consistent(app: Flask, owner: Engine, client: ExchangeClient) -> None:
    """Every signed checkpoint extends the one before, by the API's RFC 9162 §2.1.4 proof."""
    with app.app_context():
        verifier = load_vault().log_signer(log_origin(app)).verifier()
        db.session.remove()
    checkpoints = []
    for size, root, note in query(
        owner, "SELECT size, root, note FROM audit_checkpoint ORDER BY size"
    ):
        signed = Checkpoint.parse(open_note(note.encode(), verifiers=[verifier]).text)
        assert (signed.size, signed.root) == (size, bytes(root))
        checkpoints.append(signed)
    assert len(checkpoints) >= 3
    for older, newer in itertools.pairwise(checkpoints):
        document = client.request(
            "GET", f"/api/v1/audit/proof/consistency?old={older.size}&new={newer.size}"
        )
        verify_consistency(
            old_size=older.size,
            new_size=newer.size,
            old_root=older.root,
            new_root=newer.root,
            proof=[base64.b64decode(h) for h in document["proof"]],
        )
