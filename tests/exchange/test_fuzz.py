"""Hostile and random input: always a problem response with a code and an audit entry.

Hypothesis generates arbitrary JSON bodies and damaged versions of valid envelopes; none may
answer 5xx, every refusal is RFC 9457 with a stable code, and every request leaves exactly
its own audit entry.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keys.errors import CanonicalizationError
from tests.exchange.helpers import audit_entry
from tests.factories import AgencySystem, World

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
_json = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=25,
)
_FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
_FIELDS = (
    "id",
    "type",
    "schema",
    "version",
    "status",
    "publisher",
    "issued_at",
    "handling",
    "evaluation",
    "payload",
    "links",
)


def _post(app: Flask, caller: AgencySystem, body: bytes) -> Any:
    return app.test_client().post(
        "/api/v1/records", data=body, content_type="application/json", environ_base=caller.environ()
    )


def _assert_answered_and_audited(app: Flask, response: Any) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        problem = response.get_json()
        assert response.mimetype == "application/problem+json"
        assert problem["type"] == "urn:exchange:problem:" + problem["code"]
    entry = audit_entry(app, response.headers["Exchange-Request-Id"])
    assert entry["status"] == response.status_code


class TestFuzzedPublish:
    @settings(
        max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(body=_json)
    def test_arbitrary_json_bodies(self, app: Flask, world: World, body: object) -> None:
        caller = _caller(world)
        response = _post(app, caller, json.dumps(body).encode())
        _assert_answered_and_audited(app, response)
        assert response.status_code != 201

    @settings(
        max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(field=st.sampled_from(_FIELDS), value=_json, drop=st.booleans())
    def test_damaged_envelopes(
        self, app: Flask, world: World, field: str, value: object, drop: bool
    ) -> None:
        caller = _caller(world)
        envelope = caller.envelope("broker")
        if drop:
            envelope.pop(field, None)
        else:
            envelope[field] = value
        try:
            signature = caller.sign(envelope)
        except CanonicalizationError:
            # Values without an RFC 8785 form cannot be signed; the exchange still answers.
            signature = "eyJhbGciOiJFZDI1NTE5In0..c2ln"
        body = {"record": envelope, "signature": signature}
        response = _post(app, caller, json.dumps(body).encode())
        _assert_answered_and_audited(app, response)

    @settings(
        max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(raw=st.binary(max_size=300))
    def test_arbitrary_bytes(self, app: Flask, world: World, raw: bytes) -> None:
        _assert_answered_and_audited(app, _post(app, _caller(world), raw))


_callers: dict[int, AgencySystem] = {}


def _caller(world: World) -> AgencySystem:
    # One agency for all examples: provisioning per example would dominate the run.
    key = id(world)
    if key not in _callers:
        _callers[key] = world.agency("police")
    return _callers[key]


class TestFuzzedReads:
    @_FUZZ
    @given(
        params=st.dictionaries(
            st.sampled_from(
                (
                    "type",
                    "publisher",
                    "country",
                    "prefecture",
                    "category",
                    "status",
                    "from",
                    "to",
                    "q",
                    "cursor",
                    "limit",
                    "unknown",
                )
            ),
            st.text(max_size=40),
            max_size=5,
        ),
        purpose=st.sampled_from(("investigation", "audit", "", "x" * 300)),
    )
    def test_search_parameters(
        self, app: Flask, world: World, params: dict[str, str], purpose: str
    ) -> None:
        response = app.test_client().get(
            "/api/v1/records",
            query_string=params,
            headers={"Exchange-Purpose": purpose},
            environ_base=_caller(world).environ(),
        )
        _assert_answered_and_audited(app, response)

    @_FUZZ
    @given(record_id=st.text(min_size=1, max_size=80).filter(lambda t: "/" not in t))
    def test_record_ids(self, app: Flask, world: World, record_id: str) -> None:
        response = app.test_client().get(
            f"/api/v1/records/{record_id}",
            headers={"Exchange-Purpose": "investigation"},
            environ_base=_caller(world).environ(),
        )
        _assert_answered_and_audited(app, response)


class TestUnstorableValues:
    def test_nul_in_path_query_or_header_is_refused(self, app: Flask, world: World) -> None:
        environ = _caller(world).environ()
        client = app.test_client()
        for response in (
            client.get(
                "/api/v1/records/%00", environ_base=environ, headers={"Exchange-Purpose": "audit"}
            ),
            client.get(
                "/api/v1/records?q=a%00b",
                environ_base=environ,
                headers={"Exchange-Purpose": "audit"},
            ),
        ):
            assert response.status_code == 400
            assert response.get_json()["code"] == "invalid_characters"
            _assert_answered_and_audited(app, response)

    def test_unstorable_ids_and_versions_are_refused_not_failed(
        self, app: Flask, world: World
    ) -> None:
        caller = _caller(world)
        for damage in ({"id": "a\x00b"}, {"version": 2**40}, {"id": "x" * 5000}):
            envelope = dict(caller.envelope("broker"), **damage)
            body = {"record": envelope, "signature": "eyJhbGciOiJFZDI1NTE5In0..c2ln"}
            response = _post(app, caller, json.dumps(body).encode())
            assert response.status_code == 422, response.get_data(as_text=True)
            _assert_answered_and_audited(app, response)

    def test_forged_cursors_are_answered(self, app: Flask, world: World) -> None:
        import base64

        for before in (10**30, -5, 0, 2**31, "1", None, [1]):
            cursor = base64.urlsafe_b64encode(json.dumps({"before": before}).encode()).decode()
            response = app.test_client().get(
                "/api/v1/records",
                query_string={"cursor": cursor.rstrip("=")},
                headers={"Exchange-Purpose": "audit"},
                environ_base=_caller(world).environ(),
            )
            _assert_answered_and_audited(app, response)


class TestFuzzedKeys:
    @_FUZZ
    @given(body=_json, path=st.sampled_from(("", "/x/retire", "/x/revoke")))
    def test_key_bodies(self, app: Flask, world: World, body: object, path: str) -> None:
        response = app.test_client().post(
            f"/api/v1/keys{path}",
            data=json.dumps(body),
            content_type="application/json",
            environ_base=_caller(world).environ(),
        )
        _assert_answered_and_audited(app, response)
        assert response.status_code != 201

    @_FUZZ
    @given(
        jwk=st.dictionaries(
            st.sampled_from(("kty", "crv", "x", "y", "d", "alg", "use")),
            st.text(max_size=60),
            max_size=6,
        ),
        proof=st.text(max_size=200),
    )
    def test_key_registrations(
        self, app: Flask, world: World, jwk: dict[str, str], proof: str
    ) -> None:
        response = app.test_client().post(
            "/api/v1/keys",
            json={"jwk": jwk, "proof": proof},
            environ_base=_caller(world).environ(),
        )
        _assert_answered_and_audited(app, response)
        assert response.status_code != 201


def _auditor(world: World) -> AgencySystem:
    auditor: AgencySystem | None = getattr(world, "_fuzz_auditor", None)
    if auditor is None:
        auditor = world.agency("otit", roles=("auditor",))
        world._fuzz_auditor = auditor  # type: ignore[attr-defined]
    return auditor


_AUDIT_BODY_PATHS = ("/api/v1/audit/cosignatures", "/api/v1/audit/lookup")
_SUBSCRIPTION_BODY_PATHS = ("", "/{id}/ack")


class TestFuzzedAuditLog:
    @_FUZZ
    @given(body=_json, path=st.sampled_from(_AUDIT_BODY_PATHS))
    def test_audit_bodies(self, app: Flask, world: World, body: object, path: str) -> None:
        response = app.test_client().post(
            path,
            data=json.dumps(body),
            content_type="application/json",
            environ_base=_auditor(world).environ(),
        )
        _assert_answered_and_audited(app, response)

    @_FUZZ
    @given(
        path=st.sampled_from(
            (
                "/api/v1/audit/checkpoint",
                "/api/v1/audit/proof/inclusion",
                "/api/v1/audit/proof/consistency",
                "/api/v1/audit/entries",
                "/api/v1/audit/cosignatures",
            )
        ),
        params=st.dictionaries(
            st.sampled_from(("index", "size", "entry", "old", "new", "start", "end")),
            st.one_of(
                st.integers(min_value=-(2**70), max_value=2**70).map(str),
                st.text(max_size=40),
            ),
            max_size=4,
        ),
    )
    def test_audit_parameters(
        self, app: Flask, world: World, path: str, params: dict[str, str]
    ) -> None:
        response = app.test_client().get(
            path, query_string=params, environ_base=_auditor(world).environ()
        )
        _assert_answered_and_audited(app, response)


class TestFuzzedSubscriptions:
    @_FUZZ
    @given(body=_json, path=st.sampled_from(_SUBSCRIPTION_BODY_PATHS))
    def test_subscription_bodies(self, app: Flask, world: World, body: object, path: str) -> None:
        caller = _caller(world)
        client = app.test_client()
        existing = getattr(world, "_fuzz_subscription", None)
        if existing is None:
            created = client.post(
                "/api/v1/subscriptions",
                json={"name": "fuzz", "types": ["broker"], "mode": "pull"},
                environ_base=caller.environ(),
            )
            existing = created.get_json()["id"]
            world._fuzz_subscription = existing  # type: ignore[attr-defined]
        response = client.post(
            "/api/v1/subscriptions" + path.format(id=existing),
            data=json.dumps(body),
            content_type="application/json",
            environ_base=caller.environ(),
        )
        _assert_answered_and_audited(app, response)

    @_FUZZ
    @given(
        subscription=st.text(min_size=1, max_size=60).filter(lambda t: "/" not in t),
        params=st.dictionaries(
            st.sampled_from(("after", "limit", "wait")),
            st.one_of(st.integers(min_value=-(2**70), max_value=2**70).map(str), st.text()),
            max_size=3,
        ),
    )
    def test_feed_parameters(
        self, app: Flask, world: World, subscription: str, params: dict[str, str]
    ) -> None:
        if "wait" in params:
            params["wait"] = "0"
        response = app.test_client().get(
            f"/api/v1/subscriptions/{quote(subscription, safe='')}/events",
            query_string=params,
            headers={"Exchange-Purpose": "audit"},
            environ_base=_caller(world).environ(),
        )
        _assert_answered_and_audited(app, response)
