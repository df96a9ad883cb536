"""Subscriptions and the pull feed: filters, policy at delivery time, order, never a skip."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from exchange.agencies.policy import DEFAULT_RULES, set_policy
from exchange.extensions import db
from exchange.trail.integrator_process import build_integrator
from tests.exchange.helpers import audit_entry
from tests.factories import OPERATOR, AgencySystem, World
from tests.isolated import isolated_app

PURPOSE = {"Exchange-Purpose": "investigation"}


def integrate(app: Flask) -> None:
    with app.app_context():
        build_integrator(app).integrate(checkpoint=True)
        db.session.remove()


def subscribe(client: FlaskClient, caller: AgencySystem, **body: Any) -> dict[str, Any]:
    document = {"name": "test", "types": ["broker"], "mode": "pull", **body}
    response = client.post("/api/v1/subscriptions", json=document, environ_base=caller.environ())
    assert response.status_code == 201, response.json
    result: dict[str, Any] = response.json  # type: ignore[assignment]
    return result


def publish(client: FlaskClient, caller: AgencySystem, envelope: dict[str, Any]) -> None:
    response = client.post(
        "/api/v1/records", json=caller.submission(envelope), environ_base=caller.environ()
    )
    assert response.status_code == 201, response.json


def pull(
    client: FlaskClient, caller: AgencySystem, subscription: str, **params: Any
) -> dict[str, Any]:
    response = client.get(
        f"/api/v1/subscriptions/{subscription}/events",
        query_string=params,
        headers=PURPOSE,
        environ_base=caller.environ(),
    )
    assert response.status_code == 200, response.json
    result: dict[str, Any] = response.json  # type: ignore[assignment]
    return result


@pytest.fixture()
def fresh(tmp_path: Path) -> Any:
    with isolated_app(tmp_path / "instance") as app:
        yield app


class TestSubscriptions:
    @pytest.mark.parametrize(
        ("body", "status", "code"),
        [
            ({"types": ["nothing"]}, 422, "schema_invalid"),
            ({"types": []}, 422, "schema_invalid"),
            ({"filters": {"colour": ["red"]}}, 422, "schema_invalid"),
            ({"filters": {"country": "VN"}}, 422, "schema_invalid"),
            ({"mode": "push"}, 422, "schema_invalid"),
            ({"mode": "push", "endpoint": "http://agency.example/in"}, 422, "schema_invalid"),
            ({"mode": "push", "endpoint": "https://u:p@agency.example/in"}, 422, "schema_invalid"),
            ({"endpoint": "https://agency.example/in"}, 422, "schema_invalid"),
            ({"mode": "carrier-pigeon"}, 422, "schema_invalid"),
            ({"name": ""}, 422, "schema_invalid"),
        ],
    )
    def test_bad_subscriptions_are_refused(
        self, app: Flask, world: World, body: dict[str, Any], status: int, code: str
    ) -> None:
        caller = world.agency("police")
        document = {"name": "x", "types": ["broker"], "mode": "pull", **body}
        response = app.test_client().post(
            "/api/v1/subscriptions", json=document, environ_base=caller.environ()
        )
        assert response.status_code == status and response.json is not None
        assert response.json["code"] == code and response.json["errors"]
        assert audit_entry(app, response.json["request_id"])["outcome"] == "invalid"

    def test_a_type_the_policy_withholds_is_refused(self, app: Flask, world: World) -> None:
        labour = world.agency("labour")
        response = app.test_client().post(
            "/api/v1/subscriptions",
            json={"name": "x", "types": ["school"], "mode": "pull"},
            environ_base=labour.environ(),
        )
        assert response.status_code == 403 and response.json is not None
        assert response.json["code"] == "policy_denied"

    def test_an_agency_sees_and_manages_only_its_own(self, app: Flask, world: World) -> None:
        client = app.test_client()
        police, mofa = world.agency("police"), world.agency("mofa")
        mine = subscribe(client, police)
        listed = client.get("/api/v1/subscriptions", environ_base=mofa.environ()).json
        assert listed is not None and mine["id"] not in [s["id"] for s in listed["subscriptions"]]
        for method, suffix in (
            ("GET", ""),
            ("PATCH", ""),
            ("DELETE", ""),
            ("GET", "/events"),
            ("POST", "/ack"),
            ("GET", "/dead-letters"),
            ("POST", "/redrive"),
        ):
            response = client.open(
                f"/api/v1/subscriptions/{mine['id']}{suffix}",
                method=method,
                json={"state": "paused"} if method == "PATCH" else {"cursor": 0},
                headers=PURPOSE,
                environ_base=mofa.environ(),
            )
            assert response.status_code == 404, (method, suffix)
            assert response.json is not None and response.json["code"] == "subscription_not_found"

    def test_pause_resume_delete(self, app: Flask, world: World) -> None:
        client = app.test_client()
        police = world.agency("police")
        created = subscribe(client, police)
        path = f"/api/v1/subscriptions/{created['id']}"
        paused = client.patch(path, json={"state": "paused"}, environ_base=police.environ())
        assert paused.json is not None and paused.json["state"] == "paused"
        refused = client.get(path + "/events", headers=PURPOSE, environ_base=police.environ())
        assert refused.status_code == 409
        assert refused.json is not None and refused.json["code"] == "subscription_not_pullable"
        resumed = client.patch(path, json={"state": "active"}, environ_base=police.environ())
        assert resumed.json is not None and resumed.json["state"] == "active"
        assert client.delete(path, environ_base=police.environ()).status_code == 204
        assert client.get(path, environ_base=police.environ()).status_code == 404

    def test_a_pull_needs_a_purpose(self, app: Flask, world: World) -> None:
        client = app.test_client()
        police = world.agency("police")
        created = subscribe(client, police)
        response = client.get(
            f"/api/v1/subscriptions/{created['id']}/events", environ_base=police.environ()
        )
        assert response.status_code == 400
        assert response.json is not None and response.json["code"] == "purpose_required"


# One filter at a time: a record that matches it and one that does not.
def _broker(caller: AgencySystem, **payload: Any) -> dict[str, Any]:
    envelope = caller.envelope("broker")
    envelope["payload"].update(payload)
    return envelope


FIELD_CASES: list[tuple[str, list[str], dict[str, Any], dict[str, Any]]] = [
    (
        "allegation",
        ["excessive_fees"],
        {"allegations": ["excessive_fees"]},
        {"allegations": ["document_forgery"]},
    ),
    (
        "programme",
        ["technical_intern"],
        {"programmes": ["technical_intern"]},
        {"programmes": ["student"]},
    ),
]


class TestFilters:
    @pytest.mark.parametrize(("name", "values", "matching", "other"), FIELD_CASES)
    def test_payload_filters(
        self,
        app: Flask,
        world: World,
        name: str,
        values: list[str],
        matching: dict[str, Any],
        other: dict[str, Any],
    ) -> None:
        client = app.test_client()
        isa, police = world.agency("immigration"), world.agency("police")
        created = subscribe(client, police, filters={name: values, "publisher": [isa.agency]})
        wanted, unwanted = _broker(isa, **matching), _broker(isa, **other)
        publish(client, isa, unwanted)
        publish(client, isa, wanted)
        integrate(app)
        events = pull(client, police, created["id"])["events"]
        assert [e["record"]["id"] for e in events] == [wanted["id"]]

    @pytest.mark.parametrize("name", ["publisher", "publisher_kind"])
    def test_publisher_filters(self, app: Flask, world: World, name: str) -> None:
        client = app.test_client()
        isa, otit, police = (
            world.agency("immigration"),
            world.agency("otit"),
            world.agency("police"),
        )
        value = isa.agency if name == "publisher" else "immigration"
        created = subscribe(
            client,
            police,
            filters={name: [value], "publisher": [isa.agency, otit.agency]}
            if name == "publisher_kind"
            else {name: [value]},
        )
        wanted, unwanted = isa.envelope("broker"), otit.envelope("broker")
        publish(client, otit, unwanted)
        publish(client, isa, wanted)
        integrate(app)
        events = pull(client, police, created["id"])["events"]
        assert [e["record"]["id"] for e in events] == [wanted["id"]]

    def test_prefecture_and_status_filters(self, app: Flask, world: World) -> None:
        client = app.test_client()
        isa, police = world.agency("immigration"), world.agency("police")
        wanted = isa.envelope("illegal_employment")
        place = wanted["payload"]["employer"]["prefecture"]
        unwanted = isa.envelope("illegal_employment")
        while unwanted["payload"]["employer"]["prefecture"] == place:
            unwanted = isa.envelope("illegal_employment")
        by_place = subscribe(
            client,
            police,
            types=["illegal_employment"],
            filters={"prefecture": [place], "publisher": [isa.agency]},
        )
        withdrawn_only = subscribe(
            client,
            police,
            types=["illegal_employment"],
            filters={"status": ["withdrawn"], "publisher": [isa.agency]},
        )
        publish(client, isa, unwanted)
        publish(client, isa, wanted)
        withdrawal = dict(
            wanted, version=2, status="withdrawn", reason="Duplicate of another case."
        )
        publish(client, isa, withdrawal)
        integrate(app)
        placed = pull(client, police, by_place["id"])["events"]
        assert [(e["record"]["id"], e["kind"]) for e in placed] == [
            (wanted["id"], "created"),
            (wanted["id"], "withdrawn"),
        ]
        gone = pull(client, police, withdrawn_only["id"])["events"]
        assert [(e["record"]["id"], e["record"]["version"]) for e in gone] == [(wanted["id"], 2)]


class TestPull:
    def test_events_in_order_with_cursor_and_ack(self, app: Flask, world: World) -> None:
        client = app.test_client()
        isa, police = world.agency("immigration"), world.agency("police")
        created = subscribe(client, police, filters={"publisher": [isa.agency]})
        envelopes = [isa.envelope("broker") for _ in range(5)]
        for envelope in envelopes:
            publish(client, isa, envelope)
        integrate(app)
        first = pull(client, police, created["id"], limit=2)
        second = pull(client, police, created["id"], after=first["next_cursor"], limit=10)
        events = first["events"] + second["events"]
        assert [e["record"]["id"] for e in events] == [e["id"] for e in envelopes]
        assert [e["position"] for e in events] == sorted(e["position"] for e in events)
        assert all(e["event_id"] == str(e["position"]) for e in events)
        path = f"/api/v1/subscriptions/{created['id']}/ack"
        acked = client.post(
            path, json={"cursor": first["next_cursor"]}, environ_base=police.environ()
        )
        assert acked.json == {"cursor": first["next_cursor"]}
        back = client.post(path, json={"cursor": 0}, environ_base=police.environ())
        assert back.json == {"cursor": first["next_cursor"]}
        beyond = client.post(path, json={"cursor": 10**12}, environ_base=police.environ())
        assert beyond.status_code == 422
        resumed = pull(client, police, created["id"])
        assert [e["record"]["id"] for e in resumed["events"]] == [e["id"] for e in envelopes[2:]]

    def test_a_pull_is_audited_with_the_versions_it_carried(self, app: Flask, world: World) -> None:
        client = app.test_client()
        isa, police = world.agency("immigration"), world.agency("police")
        created = subscribe(client, police, filters={"publisher": [isa.agency]})
        envelope = isa.envelope("broker")
        publish(client, isa, envelope)
        integrate(app)
        response = client.get(
            f"/api/v1/subscriptions/{created['id']}/events",
            headers=PURPOSE,
            environ_base=police.environ(),
        )
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "feed.pull" and entry["purpose"] == "investigation"
        assert entry["targets"] == [{"id": envelope["id"], "version": 1}]

    def test_a_long_poll_wakes_when_an_event_arrives(self, app: Flask, world: World) -> None:
        client = app.test_client()
        isa, police = world.agency("immigration"), world.agency("police")
        created = subscribe(client, police, filters={"publisher": [isa.agency]})
        envelope = isa.envelope("broker")

        def later() -> None:
            time.sleep(0.4)
            publish(app.test_client(), isa, envelope)
            integrate(app)

        thread = threading.Thread(target=later)
        started = time.monotonic()
        thread.start()
        page = pull(client, police, created["id"], wait=10)
        thread.join()
        assert [e["record"]["id"] for e in page["events"]] == [envelope["id"]]
        assert time.monotonic() - started < 5

    def test_audience_is_checked_at_delivery(self, app: Flask, world: World) -> None:
        client = app.test_client()
        isa, police, mofa = (
            world.agency("immigration"),
            world.agency("police"),
            world.agency("mofa"),
        )
        created = subscribe(client, police, filters={"publisher": [isa.agency]})
        for_mofa = isa.envelope("broker")
        for_mofa["handling"] = dict(for_mofa["handling"], audience=[mofa.agency])
        for_police = isa.envelope("broker")
        for_police["handling"] = dict(for_police["handling"], audience=[police.agency])
        publish(client, isa, for_mofa)
        publish(client, isa, for_police)
        integrate(app)
        events = pull(client, police, created["id"])["events"]
        assert [e["record"]["id"] for e in events] == [for_police["id"]]


class TestPolicyAtDeliveryTime:
    def test_a_policy_change_stops_deliveries(self, fresh: Flask, tmp_path: Path) -> None:
        world = World(fresh, tmp_path / "bundles")
        client = fresh.test_client()
        isa, labour = world.agency("immigration"), world.agency("labour")
        created = subscribe(client, labour, types=["illegal_employment"])
        publish(client, isa, isa.envelope("illegal_employment"))
        integrate(fresh)
        assert len(pull(client, labour, created["id"])["events"]) == 1
        rules = {
            k: {"publish": list(v["publish"]), "read": list(v["read"])}
            for k, v in DEFAULT_RULES.items()
        }
        rules["illegal_employment"]["read"].remove("labour")
        with fresh.app_context():
            set_policy(actor=OPERATOR, rules=rules, note="labour bureaus no longer read")
            db.session.commit()
        publish(client, isa, isa.envelope("illegal_employment"))
        integrate(fresh)
        cursor = pull(client, labour, created["id"])["next_cursor"]
        assert pull(client, labour, created["id"], after=0)["events"] == []
        assert cursor > 0

    def test_a_revoked_certificate_stops_pulls(self, fresh: Flask, tmp_path: Path) -> None:
        world = World(fresh, tmp_path / "bundles")
        client = fresh.test_client()
        police = world.agency("police")
        created = subscribe(client, police)
        result = fresh.test_cli_runner().invoke(
            args=["cert", "revoke", police.fingerprint, "--reason", "key_compromise"]
        )
        assert result.exit_code == 0, result.output
        response = client.get(
            f"/api/v1/subscriptions/{created['id']}/events",
            headers=PURPOSE,
            environ_base=police.environ(),
        )
        assert response.status_code == 403


class TestNeverSkips:
    def test_concurrent_publishers_and_a_following_reader(
        self, fresh: Flask, tmp_path: Path
    ) -> None:
        world = World(fresh, tmp_path / "bundles")
        publishers = [world.agency("immigration") for _ in range(8)]
        reader = world.agency("police")
        client = fresh.test_client()
        created = subscribe(client, reader)
        stop = threading.Event()
        published: list[str] = []
        lock = threading.Lock()

        def write(caller: AgencySystem) -> None:
            own = fresh.test_client()
            for _ in range(10):
                envelope = caller.envelope("broker")
                publish(own, caller, envelope)
                with lock:
                    published.append(envelope["id"])

        def sequence() -> None:
            with fresh.app_context():
                integrator = build_integrator(fresh)
                while not stop.is_set():
                    integrator.integrate()
                    stop.wait(0.005)
                db.session.remove()

        seen: list[str] = []
        cursor = 0

        def follow_once() -> None:
            nonlocal cursor
            page = pull(fresh.test_client(), reader, created["id"], after=cursor, limit=7)
            seen.extend(e["record"]["id"] for e in page["events"])
            cursor = page["next_cursor"]

        sequencer = threading.Thread(target=sequence)
        sequencer.start()
        writers = [threading.Thread(target=write, args=(c,)) for c in publishers]
        for thread in writers:
            thread.start()
        while any(thread.is_alive() for thread in writers):
            follow_once()
        stop.set()
        sequencer.join()
        integrate(fresh)
        for _ in range(50):
            before = cursor
            follow_once()
            if cursor == before:
                break
        assert len(seen) == len(set(seen))
        assert sorted(seen) == sorted(published)


class TestBadInput:
    @pytest.mark.parametrize(
        "params",
        [
            {"after": -1},
            {"after": "x"},
            {"limit": 0},
            {"limit": 5000},
            {"wait": 31},
            {"wait": "soon"},
        ],
    )
    def test_bad_pull_parameters_are_problems(
        self, app: Flask, world: World, params: dict[str, Any]
    ) -> None:
        client = app.test_client()
        police = world.agency("police")
        created = subscribe(client, police)
        response = client.get(
            f"/api/v1/subscriptions/{created['id']}/events",
            query_string=params,
            headers=PURPOSE,
            environ_base=police.environ(),
        )
        assert response.status_code == 422 and response.json is not None
        assert response.json["code"] == "parameters_invalid" and response.json["errors"]
        assert audit_entry(app, response.json["request_id"])["action"] == "feed.pull"

    @pytest.mark.parametrize(
        "body", [{}, {"cursor": -5}, {"cursor": "1"}, [], {"cursor": 1, "extra": True}]
    )
    def test_bad_acks_are_problems(self, app: Flask, world: World, body: Any) -> None:
        client = app.test_client()
        police = world.agency("police")
        created = subscribe(client, police)
        response = client.post(
            f"/api/v1/subscriptions/{created['id']}/ack", json=body, environ_base=police.environ()
        )
        assert response.status_code == 422 and response.json is not None
        assert response.json["code"] == "schema_invalid"

    def test_an_unknown_subscription_is_not_found_and_audited(
        self, app: Flask, world: World
    ) -> None:
        police = world.agency("police")
        response = app.test_client().get(
            "/api/v1/subscriptions/" + "9" * 200, environ_base=police.environ()
        )
        assert response.status_code == 404 and response.json is not None
        entry = audit_entry(app, response.json["request_id"])
        assert entry["action"] == "subscription.read" and entry["outcome"] == "invalid"


class TestOperatorCommands:
    def test_list_pause_resume_delete(self, app: Flask, world: World) -> None:
        police = world.agency("police")
        created = subscribe(app.test_client(), police, name="operated")
        runner = app.test_cli_runner()
        listed = runner.invoke(args=["subscription", "list"])
        assert listed.exit_code == 0 and created["id"] in listed.output
        for command, state in (("pause", "paused"), ("resume", "active")):
            result = runner.invoke(args=["subscription", command, created["id"]])
            assert result.exit_code == 0 and state in result.output
        assert runner.invoke(args=["subscription", "delete", created["id"]]).exit_code == 0
        missing = runner.invoke(args=["subscription", "pause", created["id"]])
        assert missing.exit_code == 1 and "No such subscription" in missing.output
