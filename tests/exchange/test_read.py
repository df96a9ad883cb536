"""Reading and searching through the sharing policy, with purposes, over real mTLS."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from exchange.agencies.policy import current_policy
from exchange.client.sdk import ExchangeClient, ExchangeError
from exchange.clock import utcnow
from exchange.extensions import db
from exchange.pki.service import revoke_signing_key
from exchange.serving import ExchangeServer
from tests.exchange.helpers import audit_entry
from tests.factories import OPERATOR, AgencySystem, World, iso


def refused(exchange: ExchangeClient, record_id: str, **kwargs: str) -> ExchangeError:
    with pytest.raises(ExchangeError) as error:
        exchange.request("GET", f"/api/v1/records/{record_id}", **kwargs)
    return error.value


class TestPolicy:
    def test_labour_bureau_may_not_read_a_school_record(
        self, app: Flask, world: World, server: ExchangeServer
    ) -> None:
        police, labour = world.agency("police"), world.agency("labour")
        envelope = police.envelope("school")
        with police.client() as exchange:
            exchange.publish(envelope)
        with labour.client() as exchange:
            error = refused(exchange, envelope["id"], purpose="labour_inspection")
        assert error.status == 403 and error.code == "policy_denied"
        entry = audit_entry(app, error.problem["request_id"])
        assert entry["action"] == "record.read"
        assert entry["outcome"] == "denied"
        assert entry["purpose"] == "labour_inspection"
        assert entry["actor"]["agency"] == labour.agency

    def test_audience_narrows_and_includes_child_agencies(
        self, world: World, server: ExchangeServer
    ) -> None:
        ministry = world.agency("labour")
        bureau = world.agency("labour", parent=ministry.agency)
        immigration, police = world.agency("immigration"), world.agency("police")
        envelope = immigration.envelope("illegal_employment")
        envelope["handling"] = dict(envelope["handling"], audience=[ministry.agency])
        with immigration.client() as exchange:
            exchange.publish(envelope)
            assert exchange.get(envelope["id"], purpose="investigation").record == envelope
        with bureau.client() as exchange:
            assert exchange.get(envelope["id"], purpose="labour_inspection").record == envelope
            # Other tests' generated records may share the employer's name.
            assert envelope["id"] in [
                r.record["id"]
                for r in exchange.search(
                    purpose="labour_inspection", q=envelope["payload"]["employer"]["name"]
                )
            ]
        with police.client() as exchange:
            assert (
                refused(exchange, envelope["id"], purpose="investigation").code == "policy_denied"
            )
            assert envelope["id"] not in [
                r.record["id"]
                for r in exchange.search(
                    purpose="investigation", q=envelope["payload"]["employer"]["name"]
                )
            ]

    def test_read_without_purpose_is_refused_and_audited(
        self, app: Flask, world: World, server: ExchangeServer
    ) -> None:
        police = world.agency("police")
        envelope = police.envelope("broker")
        with police.client() as exchange:
            exchange.publish(envelope)
            missing = refused(exchange, envelope["id"])
            invalid = refused(exchange, envelope["id"], purpose="curiosity")
        assert (missing.status, missing.code) == (400, "purpose_required")
        assert (invalid.status, invalid.code) == (400, "purpose_invalid")
        assert audit_entry(app, missing.problem["request_id"])["outcome"] == "invalid"


class TestPolicyChange:
    def test_a_new_policy_version_applies_to_the_next_request(
        self,
        app: Flask,
        runner: FlaskCliRunner,
        world: World,
        server: ExchangeServer,
        tmp_path: Path,
    ) -> None:
        police, otit = world.agency("police"), world.agency("otit")
        envelope = police.envelope("broker")
        with police.client() as exchange:
            exchange.publish(envelope)
        with app.app_context():
            rules = json.loads(json.dumps(current_policy().rules))
        narrowed = json.loads(json.dumps(rules))
        narrowed["broker"]["read"] = [k for k in narrowed["broker"]["read"] if k != "otit"]
        (tmp_path / "narrowed.json").write_text(json.dumps(narrowed))
        (tmp_path / "restored.json").write_text(json.dumps(rules))
        with otit.client() as exchange:
            assert exchange.get(envelope["id"], purpose="licensing").record == envelope
            assert (
                runner.invoke(args=["policy", "set", str(tmp_path / "narrowed.json")]).exit_code
                == 0
            )
            try:
                assert (
                    refused(exchange, envelope["id"], purpose="licensing").code == "policy_denied"
                )
            finally:
                assert (
                    runner.invoke(args=["policy", "set", str(tmp_path / "restored.json")]).exit_code
                    == 0
                )
            assert exchange.get(envelope["id"], purpose="licensing").record == envelope


class TestCompromisedKey:
    def test_versions_after_the_compromise_are_flagged(
        self, app: Flask, world: World, server: ExchangeServer
    ) -> None:
        publisher, reader = world.agency("police"), world.agency("immigration")
        envelope = publisher.envelope("broker", issued_at=iso(utcnow() - timedelta(minutes=1)))
        with publisher.client() as exchange:
            exchange.publish(envelope)
        with app.app_context():
            revoke_signing_key(
                actor=OPERATOR, kid=publisher.kid, compromised_at=utcnow() - timedelta(hours=2)
            )
            db.session.commit()
        with reader.client() as exchange:
            read = exchange.get(envelope["id"], purpose="investigation")
            raw = exchange.request(
                "GET", f"/api/v1/records/{envelope['id']}", purpose="investigation"
            )
        assert read.key_compromised and read.key_status == "revoked"
        assert raw["flags"]["key_compromised"] is True


@pytest.fixture(scope="module")
def published(world: World, server: ExchangeServer) -> tuple[AgencySystem, list[dict[str, Any]]]:
    publisher = world.agency("immigration")
    envelopes = [publisher.envelope("illegal_employment") for _ in range(7)]
    envelopes[0]["payload"]["employer"]["name"] = "株式会社ひまわり農園"
    envelopes[0]["payload"]["employer"]["prefecture"] = "08"
    envelopes[0]["payload"]["employer"]["municipality"] = "082015"
    with publisher.client() as exchange:
        exchange.publish_batch(envelopes)
    return publisher, envelopes


class TestSearch:
    def test_filters_and_free_text(
        self, published: tuple[AgencySystem, list[dict[str, Any]]]
    ) -> None:
        publisher, envelopes = published
        with publisher.client() as exchange:
            mine = list(exchange.search(purpose="statistics", publisher=publisher.agency))
            assert {r.record["id"] for r in mine} == {e["id"] for e in envelopes}
            found = list(exchange.search(purpose="investigation", q="ひまわり", prefecture="08"))
            assert [r.record["id"] for r in found] == [envelopes[0]["id"]]
            assert (
                list(exchange.search(purpose="investigation", q="ひまわり", prefecture="23")) == []
            )
            assert (
                list(
                    exchange.search(
                        purpose="investigation", publisher=publisher.agency, type="broker"
                    )
                )
                == []
            )

    def test_issued_date_range(self, published: tuple[AgencySystem, list[dict[str, Any]]]) -> None:
        publisher, envelopes = published
        today = utcnow().date().isoformat()
        with publisher.client() as exchange:
            same_day = list(
                exchange.search(
                    purpose="statistics",
                    publisher=publisher.agency,
                    issued_from=today,
                    issued_to=today,
                )
            )
            before = list(
                exchange.search(
                    purpose="statistics", publisher=publisher.agency, issued_to="2020-01-01"
                )
            )
        assert len(same_day) == len(envelopes) and before == []

    def test_cursor_pagination_visits_everything_once(
        self, published: tuple[AgencySystem, list[dict[str, Any]]]
    ) -> None:
        publisher, envelopes = published
        with publisher.client() as exchange:
            seen, cursor = [], None
            for _ in range(10):
                page, cursor = exchange.search_page(
                    purpose="statistics", publisher=publisher.agency, limit=3, cursor=cursor
                )
                seen += [r.record["id"] for r in page]
                if cursor is None:
                    break
        assert sorted(seen) == sorted(e["id"] for e in envelopes)
        assert len(seen) == len(set(seen))

    def test_search_is_audited_with_results_and_hashed_terms(
        self, app: Flask, published: tuple[AgencySystem, list[dict[str, Any]]]
    ) -> None:
        publisher, envelopes = published
        with publisher.client() as exchange:
            result = exchange.request(
                "GET", "/api/v1/records", purpose="investigation", params={"q": "ひまわり"}
            )
        ids = [item["record"]["id"] for item in result["items"]]
        assert envelopes[0]["id"] in ids
        with pytest.raises(ExchangeError) as bad, publisher.client() as exchange:
            exchange.request(
                "GET", "/api/v1/records", purpose="investigation", params={"prefecture": "99"}
            )
        assert bad.value.code == "parameters_invalid"
        assert bad.value.problem["errors"][0]["parameter"] == "prefecture"
        entry = audit_entry(app, bad.value.problem["request_id"])
        assert entry["outcome"] == "invalid"

    def test_bad_cursor(self, published: tuple[AgencySystem, list[dict[str, Any]]]) -> None:
        publisher, _ = published
        with publisher.client() as exchange, pytest.raises(ExchangeError) as error:
            exchange.request(
                "GET", "/api/v1/records", purpose="statistics", params={"cursor": "!!"}
            )
        assert error.value.code == "cursor_invalid"
