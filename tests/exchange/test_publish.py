"""Publishing over real mTLS: signatures, keys, versions, idempotency, refusals."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select

from exchange.client.sdk import ExchangeError
from exchange.clock import utcnow
from exchange.extensions import db
from exchange.pki.service import revoke_signing_key
from exchange.records.models import Record, RecordVersion
from exchange.serving import ExchangeServer
from keys.jwk import generate_signing_key
from tests.exchange.helpers import audit_entry, declared_over_limit
from tests.factories import OPERATOR, AgencySystem, World, iso


def session_for(caller: AgencySystem) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would replace the pinned CA
    session.cert = (
        str(caller.bundle_dir / "client.pem"),
        str(caller.bundle_dir / "client.key.pem"),
    )
    session.verify = str(caller.bundle_dir / "ca.pem")
    return session


def post(
    caller: AgencySystem,
    body: Any,
    *,
    raw: bytes | None = None,
    content_type: str = "application/json",
) -> requests.Response:
    data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
    with session_for(caller) as session:
        return session.post(
            f"{caller.world.served_at()}/api/v1/records",
            data=data,
            headers={"Content-Type": content_type},
            timeout=30,
        )


def versions_stored(app: Flask, record_id: str) -> int:
    with app.app_context():
        return (
            db.session.scalar(
                select(func.count())
                .select_from(RecordVersion)
                .join(Record)
                .where(Record.id == record_id)
            )
            or 0
        )


def assert_problem(
    app: Flask, response: requests.Response, status: int, code: str, action: str = "record.publish"
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == code
    assert problem["type"] == f"urn:exchange:problem:{code}"
    assert problem["request_id"] == response.headers["Exchange-Request-Id"]
    assert "Traceback" not in response.text
    entry = audit_entry(app, problem["request_id"])
    assert entry["action"] == action
    assert entry["status"] == status
    return dict(problem)


@pytest.fixture(scope="module")
def police(world: World, server: ExchangeServer) -> AgencySystem:
    return world.agency("police")


@pytest.fixture(scope="module")
def immigration(world: World, server: ExchangeServer) -> AgencySystem:
    return world.agency("immigration")


@pytest.fixture(scope="module")
def labour(world: World, server: ExchangeServer) -> AgencySystem:
    return world.agency("labour")


class TestPublishAndRead:
    def test_published_record_is_read_and_verified_by_another_agency(
        self, app: Flask, police: AgencySystem, immigration: AgencySystem
    ) -> None:
        envelope = police.envelope("broker")
        with police.client() as exchange:
            receipt = exchange.publish(envelope)
        assert receipt.created and receipt.version == 1
        publish_entry = audit_entry(app, receipt.audit_entry)
        assert publish_entry["action"] == "record.publish"
        assert publish_entry["targets"] == [{"id": envelope["id"], "version": 1}]
        with immigration.client() as exchange:
            read = exchange.get(envelope["id"], purpose="visa_screening")
        assert read.record == envelope
        assert read.kid == police.kid
        assert not read.key_compromised

    def test_es256_signatures_are_accepted(self, world: World, immigration: AgencySystem) -> None:
        publisher = world.agency("police", algorithm="ES256")
        envelope = publisher.envelope("school")
        with publisher.client() as exchange:
            assert exchange.publish(envelope).created
        with immigration.client() as exchange:
            assert exchange.get(envelope["id"], purpose="investigation").record == envelope

    def test_identical_version_again_is_idempotent(self, app: Flask, police: AgencySystem) -> None:
        envelope = police.envelope("broker")
        body = police.submission(envelope)
        first, second = post(police, body), post(police, body)
        assert first.status_code == 201 and second.status_code == 200
        assert first.json()["receipt"] == second.json()["receipt"]
        assert second.json()["created"] is False
        assert versions_stored(app, envelope["id"]) == 1

    def test_amend_and_withdraw(
        self, app: Flask, police: AgencySystem, immigration: AgencySystem
    ) -> None:
        envelope = police.envelope("broker")
        amended = dict(envelope, version=2, issued_at=iso(utcnow()))
        amended["payload"] = dict(envelope["payload"], narrative="追加情報あり")
        withdrawn = dict(amended, version=3, status="withdrawn", reason="誤登録")
        with police.client() as exchange:
            for version in (envelope, amended, withdrawn):
                exchange.publish(version)
        with immigration.client() as exchange:
            history = exchange.versions(envelope["id"], purpose="investigation")
            assert [v.record["version"] for v in history] == [1, 2, 3]
            assert (
                exchange.get(envelope["id"], purpose="investigation").record["status"]
                == "withdrawn"
            )
            assert (
                exchange.get(envelope["id"], purpose="investigation", version=1).record == envelope
            )
        response = post(police, police.submission(dict(amended, version=4)))
        assert_problem(app, response, 409, "record_withdrawn")

    def test_batch_is_all_or_nothing(self, app: Flask, police: AgencySystem) -> None:
        good = [police.envelope("broker") for _ in range(5)]
        bad = police.envelope("broker")
        bad["payload"]["country"] = "XX"
        response = post(police, {"records": [police.submission(e) for e in [*good, bad]]})
        problem = assert_problem(app, response, 422, "schema_invalid")
        assert problem["errors"][0]["pointer"] == "/records/5/record/payload/country"
        assert all(versions_stored(app, e["id"]) == 0 for e in good)
        with police.client() as exchange:
            receipts = exchange.publish_batch(good)
        assert [r.record_id for r in receipts] == [e["id"] for e in good]
        entry = audit_entry(app, receipts[0].audit_entry)
        assert len(entry["targets"]) == 5

    def test_batch_may_carry_several_versions_of_one_record(
        self, app: Flask, police: AgencySystem, immigration: AgencySystem
    ) -> None:
        first = police.envelope("broker")
        second = dict(first, version=2, issued_at=iso(utcnow()))
        other = police.envelope("broker")
        with police.client() as exchange:
            receipts = exchange.publish_batch([first, second, other])
            again = exchange.publish_batch([first, second])
        assert [r.version for r in receipts] == [1, 2, 1]
        assert [r.token for r in again] == [r.token for r in receipts[:2]]
        assert not any(r.created for r in again)
        with immigration.client() as exchange:
            assert exchange.get(first["id"], purpose="investigation").record == second
        assert versions_stored(app, first["id"]) == 2


class TestReplays:
    def test_an_old_version_replayed_changes_nothing(
        self, app: Flask, police: AgencySystem, immigration: AgencySystem
    ) -> None:
        first = police.envelope("broker")
        second = dict(first, version=2, issued_at=iso(utcnow()))
        first_body = police.submission(first)
        original = post(police, first_body).json()["receipt"]
        assert post(police, police.submission(second)).status_code == 201
        replayed = post(police, first_body)
        assert replayed.status_code == 200 and replayed.json()["receipt"] == original
        with immigration.client() as exchange:
            assert exchange.get(first["id"], purpose="investigation").record == second
        assert versions_stored(app, first["id"]) == 2

    def test_a_signed_record_replayed_by_another_agency_is_refused(
        self, app: Flask, police: AgencySystem, immigration: AgencySystem
    ) -> None:
        body = police.submission(police.envelope("broker"))
        assert_problem(app, post(immigration, body), 403, "publisher_mismatch")
        assert post(police, body).status_code == 201


class TestRefusals:
    def test_publisher_must_be_the_callers_agency(
        self, app: Flask, police: AgencySystem, immigration: AgencySystem
    ) -> None:
        envelope = police.envelope("broker", publisher=immigration.agency)
        problem = assert_problem(
            app, post(police, police.submission(envelope)), 403, "publisher_mismatch"
        )
        assert problem["errors"][0]["pointer"] == "/record/publisher"

    def test_policy_refuses_publishing_a_type(self, app: Flask, labour: AgencySystem) -> None:
        envelope = labour.envelope("school")
        assert_problem(app, post(labour, labour.submission(envelope)), 403, "policy_denied")

    def test_tampered_payload(self, app: Flask, police: AgencySystem) -> None:
        envelope = police.envelope("broker")
        body = police.submission(envelope)
        body["record"] = dict(envelope, issued_at=iso(utcnow() - timedelta(days=3)))
        assert_problem(app, post(police, body), 422, "signature_invalid")
        assert versions_stored(app, envelope["id"]) == 0

    def test_signature_by_a_key_not_registered(self, app: Flask, police: AgencySystem) -> None:
        envelope = police.envelope("broker")
        body = {
            "record": envelope,
            "signature": police.sign(envelope, key=generate_signing_key("Ed25519")),
        }
        assert_problem(app, post(police, body), 422, "key_unknown")

    def test_signature_by_another_agencys_key(
        self, app: Flask, police: AgencySystem, immigration: AgencySystem
    ) -> None:
        envelope = police.envelope("broker")
        body = {"record": envelope, "signature": immigration.sign(envelope)}
        assert_problem(app, post(police, body), 422, "key_unknown")

    def test_garbage_signature(self, app: Flask, police: AgencySystem) -> None:
        envelope = police.envelope("broker")
        problem = assert_problem(
            app,
            post(police, {"record": envelope, "signature": "not-a-jws"}),
            422,
            "signature_malformed",
        )
        assert problem["errors"][0]["pointer"] == "/signature"

    def test_revoked_key_and_key_revoked_before_issued_at(self, app: Flask, world: World) -> None:
        publisher = world.agency("police")
        envelope = publisher.envelope("broker", issued_at=iso(utcnow()))
        with app.app_context():
            revoke_signing_key(
                actor=OPERATOR, kid=publisher.kid, compromised_at=utcnow() - timedelta(hours=1)
            )
            db.session.commit()
        assert_problem(app, post(publisher, publisher.submission(envelope)), 422, "key_revoked")

    def test_schema_violation_names_the_fields(self, app: Flask, police: AgencySystem) -> None:
        envelope = police.envelope("broker")
        envelope["payload"]["corporate_number"] = "4011001098994"
        envelope["payload"]["allegations"] = []
        problem = assert_problem(
            app, post(police, police.submission(envelope)), 422, "schema_invalid"
        )
        pointers = {e["pointer"] for e in problem["errors"]}
        assert {"/record/payload/corporate_number", "/record/payload/allegations"} <= pointers

    def test_version_that_skips(self, app: Flask, police: AgencySystem) -> None:
        envelope = police.envelope("broker", version=2)
        assert_problem(app, post(police, police.submission(envelope)), 409, "version_conflict")

    def test_version_repeated_with_other_content(self, app: Flask, police: AgencySystem) -> None:
        envelope = police.envelope("broker")
        assert post(police, police.submission(envelope)).status_code == 201
        changed = dict(envelope, issued_at=iso(utcnow() - timedelta(days=3)))
        assert_problem(app, post(police, police.submission(changed)), 409, "version_conflict")

    def test_amendment_by_another_agency(
        self, app: Flask, police: AgencySystem, world: World
    ) -> None:
        envelope = police.envelope("broker")
        assert post(police, police.submission(envelope)).status_code == 201
        other = world.agency("police")
        hijack = dict(envelope, version=2, publisher=other.agency)
        assert_problem(app, post(other, other.submission(hijack)), 403, "not_publisher")

    def test_issued_in_the_future(self, app: Flask, police: AgencySystem) -> None:
        envelope = police.envelope("broker", issued_at=iso(utcnow() + timedelta(hours=2)))
        assert_problem(app, post(police, police.submission(envelope)), 422, "issued_at_invalid")

    @pytest.mark.parametrize(
        ("raw", "content_type", "status", "code"),
        [
            (b'{"record": ', "application/json", 400, "json_invalid"),
            (b'{"record": "\xff\xfe"}', "application/json", 400, "encoding_invalid"),
            (b"[" * 5000 + b"]" * 5000, "application/json", 400, "json_too_deep"),
            (b'{"record": {}, "record": {}}', "application/json", 400, "json_duplicate_key"),
            (b'{"record": NaN, "signature": "x"}', "application/json", 400, "json_invalid"),
            (b"", "application/json", 400, "body_required"),
            (b"record=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
            (b"[1, 2]", "application/json", 422, "schema_invalid"),
        ],
    )
    def test_malformed_bodies(
        self,
        app: Flask,
        police: AgencySystem,
        raw: bytes,
        content_type: str,
        status: int,
        code: str,
    ) -> None:
        assert_problem(app, post(police, None, raw=raw, content_type=content_type), status, code)

    def test_body_over_the_limit_is_refused_before_it_is_read(
        self, app: Flask, police: AgencySystem
    ) -> None:
        status, body = declared_over_limit(
            police,
            "/api/v1/records",
            content_type="application/json",
            limit=app.config["MAX_CONTENT_LENGTH"],
        )
        assert status == 413
        assert body["code"] == "body_too_large"
        assert audit_entry(app, body["request_id"])["status"] == 413

    def test_injection_in_record_id_and_search(self, app: Flask, police: AgencySystem) -> None:
        with police.client() as exchange:
            with pytest.raises(ExchangeError) as refused:
                exchange.get("x' OR '1'='1", purpose="investigation")
            # Refused as no record id at all, before anything is looked up.
            assert refused.value.code == "record_id_invalid"
            found = list(exchange.search(purpose="investigation", q="%' OR 1=1 --"))
        assert found == []


class TestConcurrency:
    def test_the_same_version_posted_at_once_is_stored_once(
        self, app: Flask, police: AgencySystem
    ) -> None:
        envelope = police.envelope("broker")
        body = police.submission(envelope)
        with ThreadPoolExecutor(max_workers=6) as pool:
            responses = list(pool.map(lambda _: post(police, body), range(6)))
        statuses = sorted(r.status_code for r in responses)
        assert statuses.count(201) == 1
        assert set(statuses) <= {200, 201, 409}
        receipts = {r.json()["receipt"] for r in responses if r.status_code < 300}
        assert len(receipts) == 1
        assert versions_stored(app, envelope["id"]) == 1

    def test_eight_writers_leave_every_record_and_entry_whole(
        self, app: Flask, world: World, server: ExchangeServer
    ) -> None:
        writers = [world.agency("police") for _ in range(8)]

        def work(caller: AgencySystem) -> list[tuple[str, int, str]]:
            done = []
            with session_for(caller) as session:
                for _ in range(6):
                    envelope = caller.envelope("broker")
                    response = session.post(
                        f"{caller.world.served_at()}/api/v1/records",
                        json=caller.submission(envelope),
                        timeout=30,
                    )
                    done.append(
                        (
                            envelope["id"],
                            response.status_code,
                            response.headers["Exchange-Request-Id"],
                        )
                    )
            return done

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = [item for batch in pool.map(work, writers) for item in batch]
        assert [status for _, status, _ in results] == [201] * len(results)
        for record_id, _, request_id in results:
            assert versions_stored(app, record_id) == 1
            assert audit_entry(app, request_id)["targets"] == [{"id": record_id, "version": 1}]
