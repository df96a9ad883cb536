"""The operations listener against a real server: metrics after mTLS requests, readiness."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask_migrate import stamp
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from sqlalchemy import select

from audit.tree import CompactRange
from exchange.clock import utcnow
from exchange.database import READ_ONLY
from exchange.extensions import db
from exchange.ops.access import UNMATCHED
from exchange.ops.gauges import log_progress
from exchange.ops.listener import start_ops_listener
from exchange.serving import ExchangeServer, Listener
from exchange.trail.integrator_process import build_integrator, run_integrator
from exchange.trail.models import AuditEntry
from tests.exchange.test_integrator import _change_stored_hash, drop_triggers, publish
from tests.factories import World
from tests.isolated import isolated_app, owner_app

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "exchange.json"


def get(url: str) -> requests.Response:
    session = requests.Session()
    session.trust_env = False
    return session.get(url, timeout=30)


def scrape(listener: Listener) -> dict[str, list[Sample]]:
    response = get(f"http://127.0.0.1:{listener.port}/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    samples: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def value(samples: dict[str, list[Sample]], name: str, **labels: str) -> float:
    matching = [
        s.value
        for s in samples.get(name, [])
        if all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert matching, f"no {name} with {labels}"
    return sum(matching)


def last_entry(app: Flask) -> dict[str, Any]:
    with app.app_context():
        row = db.session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).one()
        document: dict[str, Any] = json.loads(row.canonical)
        db.session.rollback()
        return document


@pytest.fixture(scope="module")
def ops(app: Flask) -> Iterator[Listener]:
    listener = start_ops_listener(app, host="127.0.0.1", port=0)
    yield listener
    listener.server.stop()


class TestMetrics:
    def test_requests_the_log_and_certificates_after_mtls_requests(
        self, app: Flask, world: World, server: ExchangeServer, ops: Listener
    ) -> None:
        publisher = world.agency("immigration")
        before = scrape(ops)
        with publisher.client() as client:
            client.publish(publisher.envelope())
            client.publish(publisher.envelope())
            # Its own records only: others in the shared exchange may be signed by keys
            # that other tests retired or revoked.
            list(client.search(purpose="investigation", type="broker", publisher=publisher.agency))

        samples = scrape(ops)
        published = dict(route="/api/v1/records", method="POST", status="201", actor_kind="system")
        assert value(samples, "exchange_http_requests_total", listener="api", **published) >= 2
        previously = [
            s.value
            for s in before.get("exchange_http_requests_total", [])
            if all(s.labels.get(k) == v for k, v in published.items())
        ]
        assert value(samples, "exchange_http_requests_total", **published) - sum(previously) == 2
        assert (
            value(
                samples,
                "exchange_http_request_duration_seconds_count",
                route="/api/v1/records",
                method="GET",
                actor_kind="system",
            )
            >= 1
        )
        # Routes are URL rules, never paths with their values.
        rules = {rule.rule for rule in app.url_map.iter_rules()} | {UNMATCHED}
        assert {s.labels["route"] for s in samples["exchange_http_requests_total"]} <= rules

        # The shared exchange runs no integrator: what it committed waits for leaves.
        with app.app_context(), db.engine.connect() as connection:
            connection.execution_options(**{READ_ONLY: True})
            waiting = log_progress(connection, utcnow()).waiting
        assert value(samples, "exchange_audit_entries_waiting") >= 3
        assert value(samples, "exchange_audit_entries_waiting") <= waiting

        client_days = value(
            samples,
            "exchange_certificate_expiry_days",
            certificate="client",
            fingerprint=publisher.fingerprint,
        )
        assert 29 < client_days <= 30
        assert value(samples, "exchange_certificate_expiry_days", certificate="ca") > 3000
        assert value(samples, "exchange_certificate_expiry_days", certificate="server") > 0
        assert value(samples, "exchange_database_up") == 1

    def test_a_scrape_is_audited_as_one_small_entry(self, app: Flask, ops: Listener) -> None:
        scrape(ops)
        entry = last_entry(app)
        assert entry["action"] == "ops.scrape"
        assert entry["actor"] == {"kind": "anonymous", "address": "127.0.0.1"}
        assert entry["request"] == {"method": "GET", "path": "/metrics"}
        assert "details" not in entry

    def test_health_answers_without_the_database(self, app: Flask, ops: Listener) -> None:
        before = last_entry(app)["id"]
        response = get(f"http://127.0.0.1:{ops.port}/healthz")
        assert response.status_code == 200
        assert last_entry(app)["id"] == before
        assert get(f"http://127.0.0.1:{ops.port}/other").status_code == 404


@pytest.fixture()
def lone(tmp_path: Path) -> Iterator[tuple[Flask, Listener]]:
    with isolated_app(
        tmp_path,
        EXCHANGE_READY_MAX_INTEGRATOR_LAG=3,
        EXCHANGE_READY_MAX_CHECKPOINT_AGE=300.0,
    ) as app:
        listener = start_ops_listener(app, host="127.0.0.1", port=0)
        try:
            yield app, listener
        finally:
            listener.server.stop()


def ready(listener: Listener) -> tuple[int, dict[str, Any]]:
    response = get(f"http://127.0.0.1:{listener.port}/readyz")
    assert response.headers["Content-Type"] == "application/json"
    document: dict[str, Any] = response.json()
    return response.status_code, document


class TestReadiness:
    def test_ready_once_integrated_and_not_while_the_integrator_lags(
        self, lone: tuple[Flask, Listener]
    ) -> None:
        app, listener = lone
        with app.app_context():
            build_integrator(app).integrate(checkpoint=True)
        status, document = ready(listener)
        assert status == 200, document
        assert document["ready"] is True and document["failed"] == []
        assert (
            document["checks"]["migrations"]["current"] == document["checks"]["migrations"]["head"]
        )
        assert last_entry(app)["action"] == "ops.ready"

        # Entries committed with no integrator running.
        browser = app.test_client()
        for _ in range(4):
            assert browser.get("/pki/ca.pem").status_code == 200
        status, document = ready(listener)
        assert status == 503
        assert document["failed"] == ["integrator_lag"]
        assert document["checks"]["integrator_lag"]["waiting"] > 3
        assert last_entry(app)["details"] == {"failed": ["integrator_lag"]}

        with app.app_context():
            build_integrator(app).integrate(checkpoint=True)
        assert ready(listener)[0] == 200

    def test_not_ready_while_the_schema_is_behind_the_migrations(
        self, lone: tuple[Flask, Listener]
    ) -> None:
        app, listener = lone
        with app.app_context():
            build_integrator(app).integrate(checkpoint=True)
        # Stamping the schema is the owner's, as migrating it is.
        with owner_app(app) as owner, owner.app_context():
            stamp(directory=owner.extensions["migrate"].directory, revision="0005")
        status, document = ready(listener)
        assert status == 503
        assert document["failed"] == ["migrations"]
        assert document["checks"]["migrations"]["current"] == ["0005"]
        assert document["checks"]["migrations"]["head"] != ["0005"]
        with owner_app(app) as owner, owner.app_context():
            stamp(directory=owner.extensions["migrate"].directory, revision="head")
        assert ready(listener)[0] == 200

    def test_not_ready_while_the_newest_checkpoint_is_late(self, tmp_path: Path) -> None:
        with isolated_app(tmp_path, EXCHANGE_READY_MAX_CHECKPOINT_AGE=0.0) as app:
            listener = start_ops_listener(app, host="127.0.0.1", port=0)
            try:
                with app.app_context():
                    build_integrator(app).integrate(checkpoint=True)
                    # Leaves beyond the newest checkpoint, and none signed since.
                    app.test_client().get("/pki/ca.pem")
                    build_integrator(app).integrate(checkpoint=False)
                status, document = ready(listener)
                assert status == 503
                assert document["failed"] == ["checkpoint_age"]
                assert document["checks"]["checkpoint_age"]["uncovered"] is True
            finally:
                listener.server.stop()

    def test_not_ready_while_the_integrator_here_refuses_its_stored_state(
        self, lone: tuple[Flask, Listener], tmp_path: Path
    ) -> None:
        app, listener = lone
        caller = World(app, tmp_path / "bundles").agency("police")
        publish(app, caller, 3)
        with app.app_context():
            signed = build_integrator(app).integrate(checkpoint=True).size
        assert ready(listener)[0] == 200
        drop_triggers(app)
        _change_stored_hash(app, CompactRange.nodes_of(signed)[0])
        status = run_integrator(app, stop=threading.Event(), exit_on_refusal=True)
        assert status.refusing
        code, document = ready(listener)
        assert code == 503
        assert document["failed"] == ["integrator"]
        assert document["checks"]["integrator"]["state"] == "refusing"


def test_the_dashboard_uses_only_metrics_the_exchange_exports(ops: Listener) -> None:
    response = get(f"http://127.0.0.1:{ops.port}/metrics")
    exported = set()
    for family in text_string_to_metric_families(response.text):
        exported.add(family.name)
        exported.update(sample.name for sample in family.samples)
    exported |= {f"{name}_total" for name in exported} | {f"{name}_bucket" for name in exported}
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"] and dashboard["schemaVersion"] >= 30
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    used = {
        name
        for panel in panels
        for target in panel["targets"]
        for name in re.findall(r"\bexchange_[a-z_]+", target["expr"])
    }
    assert len(used) >= 15
    assert used <= exported, sorted(used - exported)
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
