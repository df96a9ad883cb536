"""What a hostile or careless client meets at the API's edges: one answer per class of input.

JSON the parser cannot read, a method a route does not take, numbers spelled more than one
way, a record id that is not one, a feed cursor past the end, subscription names and
endpoints no database or delivery can use.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from exchange.errors import Refusal
from exchange.feeds import service as feeds
from exchange.urlnumbers import canonical_int
from tests.exchange.helpers import audit_entry
from tests.factories import AgencySystem, World
from tests.web.pages import Browser

_HUGE_INTEGER = "1" * 5000

# Every API route that reads a JSON body; ids in paths need not exist, since the body is
# read first.
_JSON_ROUTES = (
    ("POST", "/api/v1/records"),
    ("POST", "/api/v1/subscriptions"),
    ("PATCH", "/api/v1/subscriptions/00000000-0000-0000-0000-000000000000"),
    ("POST", "/api/v1/subscriptions/00000000-0000-0000-0000-000000000000/ack"),
    ("POST", "/api/v1/keys"),
    ("POST", "/api/v1/keys/nokey/revoke"),
    ("POST", "/api/v1/audit/cosignatures"),
    ("POST", "/api/v1/audit/lookup"),
)

_NON_CANONICAL = ("5_0", "+5", "05", " 5", "5 ", "５", "٥", "5.0", "-0", "")

_callers: dict[int, AgencySystem] = {}


def _caller(world: World) -> AgencySystem:
    # One auditor system for the module: every route is open to it.
    if id(world) not in _callers:
        _callers[id(world)] = world.agency("police", roles=("auditor",))
    return _callers[id(world)]


def _call(app: Flask, caller: AgencySystem, method: str, path: str, **kwargs: Any) -> TestResponse:
    headers = {"Exchange-Purpose": "investigation", **kwargs.pop("headers", {})}
    return app.test_client().open(
        path, method=method, headers=headers, environ_base=caller.environ(), **kwargs
    )


def _problem(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    problem: dict[str, Any] = response.get_json()
    assert problem["code"] == code
    return problem


class TestUnreadableJson:
    @pytest.mark.parametrize(("method", "path"), _JSON_ROUTES)
    @pytest.mark.parametrize(
        "body",
        [
            f'{{"size": {_HUGE_INTEGER}}}',
            f"[{_HUGE_INTEGER}]",
            '{"size": 1e400}',
            '{"size": -1e999}',
        ],
        ids=["integer-past-limit", "integer-in-list", "float-overflow", "negative-overflow"],
    )
    def test_every_json_route_answers_json_invalid(
        self, app: Flask, world: World, method: str, path: str, body: str
    ) -> None:
        caller = _caller(world)
        response = _call(app, caller, method, path, data=body, content_type="application/json")
        _problem(response, 400, "json_invalid")
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["status"] == 400

    def test_a_pasted_key_is_read_by_the_same_strict_reader(self, app: Flask, world: World) -> None:
        from keys.jwk import generate_signing_key, public_jwk
        from keys.pop import make_proof
        from tests.web.test_admin_pages import signed_in_admin

        browser, agency, _ = signed_in_admin(app, world)
        browser.get("/admin/keys")
        key = generate_signing_key("Ed25519")
        jwk = public_jwk(key)
        # Two "x" members: a lenient reader takes the last one and registers that key.
        pasted = (
            '{"kty": "OKP", "crv": "Ed25519", "x": "'
            + str(public_jwk(generate_signing_key("Ed25519"))["x"])
            + '", "x": "'
            + str(jwk["x"])
            + '"}'
        )
        proof = make_proof(key=key, agency=agency.agency)
        response = browser.post(
            "/admin/keys", {"agency": agency.agency, "jwk": pasted, "proof": proof}
        )
        assert response.status_code == 422, response.get_data(as_text=True)
        huge = browser.post(
            "/admin/keys",
            {"agency": agency.agency, "jwk": f'{{"kty": {_HUGE_INTEGER}}}', "proof": proof},
        )
        assert huge.status_code == 422


class TestMethodNotAllowed:
    def test_the_api_names_the_allowed_methods(self, app: Flask, world: World) -> None:
        response = _call(app, _caller(world), "PUT", "/api/v1/records")
        _problem(response, 405, "method_not_allowed")
        allowed = {m.strip() for m in response.headers["Allow"].split(",")}
        assert {"GET", "POST"} <= allowed
        assert "PUT" not in allowed

    def test_a_page_names_the_allowed_methods(self, app: Flask) -> None:
        response = Browser(app).get("/language")
        assert response.status_code == 405
        assert response.mimetype == "text/html"
        assert "POST" in response.headers["Allow"]


class TestNumbersInUrls:
    @pytest.mark.parametrize("spelling", _NON_CANONICAL)
    @pytest.mark.parametrize(
        "path",
        [
            "/api/v1/records?limit={}",
            "/api/v1/audit/entries?start={}",
            "/api/v1/audit/checkpoint?size={}",
            "/api/v1/audit/proof/consistency?old={}",
        ],
    )
    def test_only_canonical_ascii_digits_are_numbers(
        self, app: Flask, world: World, path: str, spelling: str
    ) -> None:
        response = _call(app, _caller(world), "GET", path.format(spelling))
        problem = _problem(response, 422, "parameters_invalid")
        assert problem["errors"]

    def test_the_canonical_spelling_is_taken(self, app: Flask, world: World) -> None:
        response = _call(app, _caller(world), "GET", "/api/v1/records?limit=5")
        assert response.status_code == 200, response.get_data(as_text=True)

    @pytest.mark.parametrize("spelling", _NON_CANONICAL)
    def test_hand_parsed_numbers_follow_the_same_rule(self, spelling: str) -> None:
        assert canonical_int(spelling) is None

    def test_canonical_numbers_read_as_themselves(self) -> None:
        assert [canonical_int(s) for s in ("0", "5", "50", "9223372036854775807")] == [
            0,
            5,
            50,
            2**63 - 1,
        ]
        assert canonical_int("1" * 20) is None


class TestRecordIds:
    @pytest.mark.parametrize(
        "record_id",
        [
            "not-a-uuid",
            "0193A1B2-0000-7000-8000-000000000000",
            "00000000-0000-0000-0000-000000000000",
            "x" * 200,
        ],
    )
    @pytest.mark.parametrize("suffix", ["", "/versions", "?version=1"])
    def test_a_malformed_id_is_a_bad_request(
        self, app: Flask, world: World, record_id: str, suffix: str
    ) -> None:
        response = _call(app, _caller(world), "GET", f"/api/v1/records/{record_id}{suffix}")
        problem = _problem(response, 400, "record_id_invalid")
        assert problem["errors"] == [
            {"parameter": "record_id", "detail": "Not a lower-case canonical UUID."}
        ]

    def test_a_version_past_any_stored_number_is_a_parameter_error(
        self, app: Flask, world: World
    ) -> None:
        path = f"/api/v1/records/{uuid.uuid4()}?version={2**31}"
        problem = _problem(_call(app, _caller(world), "GET", path), 422, "parameters_invalid")
        assert problem["errors"][0]["parameter"] == "version"

    def test_a_well_formed_unknown_id_is_not_found(self, app: Flask, world: World) -> None:
        response = _call(app, _caller(world), "GET", f"/api/v1/records/{uuid.uuid4()}")
        _problem(response, 404, "record_not_found")

    def test_the_record_page_refuses_a_malformed_id(self, app: Flask, world: World) -> None:
        liaison = world.agency("police")
        person = world.person(liaison.agency, "liaison")
        browser = Browser(app)
        browser.sign_in(person)
        for path in ("/records/not-a-uuid", "/records/not-a-uuid?purpose=investigation"):
            response = browser.get(path)
            assert response.status_code == 400, path
            assert "record_id_invalid" in response.get_data(as_text=True)


def _pull_subscription(app: Flask, caller: AgencySystem) -> str:
    response = _call(
        app,
        caller,
        "POST",
        "/api/v1/subscriptions",
        json={"name": "feed", "types": ["broker"], "mode": "pull"},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    subscription_id: str = response.get_json()["id"]
    return subscription_id


class TestFeedCursor:
    def test_a_pull_past_the_end_is_refused_as_ack_refuses_it(
        self, app: Flask, world: World
    ) -> None:
        caller = _caller(world)
        subscription = _pull_subscription(app, caller)
        base = f"/api/v1/subscriptions/{subscription}"
        end = _call(app, caller, "GET", f"{base}/events").get_json()["next_cursor"]
        beyond = end + 1000
        pulled = _call(app, caller, "GET", f"{base}/events?after={beyond}")
        acked = _call(app, caller, "POST", f"{base}/ack", json={"cursor": beyond})
        pull_problem = _problem(pulled, 422, "schema_invalid")
        ack_problem = _problem(acked, 422, "schema_invalid")
        assert pull_problem["errors"][0]["parameter"] == "after"
        assert ack_problem["errors"][0]["pointer"] == "/cursor"
        at_end = _call(app, caller, "GET", f"{base}/events?after={end}")
        assert at_end.status_code == 200
        assert at_end.get_json()["next_cursor"] >= end


class TestSubscriptionInput:
    @pytest.mark.parametrize(
        "name",
        ["a\x00b", "tab\there", "line\nbreak", "bell\x07", "c1\x85", "rtl\u202eevil", " padded"],
    )
    def test_names_with_control_characters_are_refused(
        self, app: Flask, world: World, name: str
    ) -> None:
        body = {"name": name, "types": ["broker"], "mode": "pull"}
        response = _call(app, _caller(world), "POST", "/api/v1/subscriptions", json=body)
        problem = _problem(response, 422, "schema_invalid")
        assert [e["pointer"] for e in problem["errors"]] == ["/name"]

    @pytest.mark.parametrize(
        "endpoint",
        [
            "https://receiver.example:99999/events",
            "https://receiver.example:0/events",
            "https://receiver.example:port/events",
            "https://receiver.example/ev ents",
            "http://receiver.example/events",
        ],
    )
    def test_push_endpoints_must_be_reachable_urls(
        self, app: Flask, world: World, endpoint: str
    ) -> None:
        body = {"name": "push", "types": ["broker"], "mode": "push", "endpoint": endpoint}
        response = _call(app, _caller(world), "POST", "/api/v1/subscriptions", json=body)
        problem = _problem(response, 422, "schema_invalid")
        assert [e["pointer"] for e in problem["errors"]] == ["/endpoint"]

    def test_a_valid_push_endpoint_is_taken(self, app: Flask, world: World) -> None:
        body = {
            "name": "push ok",
            "types": ["broker"],
            "mode": "push",
            "endpoint": "https://receiver.example:8443/events",
        }
        response = _call(app, _caller(world), "POST", "/api/v1/subscriptions", json=body)
        assert response.status_code == 201, response.get_data(as_text=True)

    def test_the_service_applies_the_same_rules(self, app: Flask, world: World) -> None:
        # The web form reaches the service without the API schema.
        with pytest.raises(Refusal) as name:
            feeds.check_name("a\x00b")
        assert name.value.errors[0]["pointer"] == "/name"
        with pytest.raises(Refusal) as endpoint:
            feeds.check_endpoint("push", "https://receiver.example:99999/")
        assert endpoint.value.errors[0]["pointer"] == "/endpoint"
