"""Publishing through the TAXII 2.1 gateway: taxii2-client adds signed records, polls status."""

from __future__ import annotations

import json
from typing import Any

import pytest
import stix2
from flask import Flask
from stix2validator import validate_instance
from taxii2client.exceptions import AccessError
from taxii2client.v21 import Server, Status

from exchange.client.sdk import ExchangeClient
from exchange.client.taxii import status_receipts, stix_object, taxii_envelope
from exchange.serving import ExchangeServer
from exchange.taxii import stix
from exchange.taxii.service import collection_id
from tests.exchange.helpers import audit_entry, configured, declared_over_limit
from tests.exchange.test_feeds import integrate
from tests.exchange.test_taxii import STRICT, TAXII, collection, raw, tls, url
from tests.factories import AgencySystem, World


@pytest.fixture(autouse=True)
def _own_ca(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests lets REQUESTS_CA_BUNDLE replace the verify that taxii2-client sets.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


def objects_url(system: AgencySystem, record_type: str) -> str:
    return url(system, f"api/collections/{collection_id(record_type)}/objects/")


def post(system: AgencySystem, record_type: str, body: Any, **headers: str) -> Any:
    with raw(system) as session:
        return session.post(
            objects_url(system, record_type),
            data=body if isinstance(body, bytes) else json.dumps(body),
            headers={"Content-Type": TAXII, **headers},
        )


def signed_objects(system: AgencySystem, *envelopes: dict[str, Any]) -> dict[str, Any]:
    with system.client() as client:
        return taxii_envelope(client, envelopes)


def forged(obj: dict[str, Any], signature_of: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with its signature swapped for that of another object's record."""
    other: dict[str, Any] = json.loads(json.dumps(obj))
    signature = signature_of["extensions"][stix.EXTENSION_ID]["signature"]
    other["extensions"][stix.EXTENSION_ID]["signature"] = signature
    return other


class TestCollections:
    def test_can_write_follows_what_the_policy_lets_the_agency_publish(
        self, world: World, server: ExchangeServer
    ) -> None:
        # DESIGN §5: mext reads schools but publishes none; otit reads illegal employment.
        expected = {
            "mext": {"broker": True, "school": False},
            "otit": {"broker": True, "illegal_employment": False},
            "police": {"broker": True, "school": True, "illegal_employment": True},
        }
        for kind, writable in expected.items():
            system = world.agency(kind)
            found = Server(url(system), **tls(system))
            found._conn.session.trust_env = False
            collections = found.default.collections
            assert {c.alias: c.can_write for c in collections} == writable
            assert all(c.can_read for c in collections)


class TestAddObjects:
    def test_published_objects_get_a_status_receipts_and_come_back_as_objects(
        self, app: Flask, world: World, server: ExchangeServer
    ) -> None:
        police = world.agency("police")
        envelopes = [police.envelope("broker") for _ in range(3)]
        posted = signed_objects(police, *envelopes)
        for obj in posted["objects"]:
            assert validate_instance(obj, STRICT).is_valid
            stix2.parse(obj, allow_custom=False)
        found = collection(police, "broker", purpose="investigation")
        assert found.can_write
        status = found.add_objects(posted)
        assert isinstance(status, Status) and status.status == "complete"
        assert (status.total_count, status.success_count, status.failure_count) == (3, 3, 0)
        assert status.pending_count == 0 and status.pendings == []
        # Polled as a TAXII client polls it: GET {api-root}/status/{id}/.
        polled = Status(status.url, conn=found._conn)
        assert polled._raw == status._raw and polled.request_timestamp.endswith("Z")
        with police.client() as client:
            outcome = status_receipts(client, polled._raw, envelopes)
            assert outcome.failures == []
            assert set(outcome.receipts) == {o["id"] for o in posted["objects"]}
            assert all(r.created for r in outcome.receipts.values())
            entry_id = next(iter(outcome.receipts.values())).audit_entry
            # The records API reads what TAXII published, signature and receipt verified.
            read = client.get(envelopes[0]["id"], purpose="investigation")
            assert read.record == envelopes[0]
        entry = audit_entry(app, entry_id)
        assert (entry["action"], entry["outcome"], entry["status"]) == ("record.publish", "ok", 202)
        assert [[t["id"], t["version"]] for t in entry["targets"]] == [
            [e["id"], 1] for e in envelopes
        ]
        assert entry["details"]["status"] == status.id
        integrate(app)
        ids = ",".join(o["id"] for o in posted["objects"])
        served = found.get_objects(id=ids)["objects"]
        assert {o["id"] for o in served} == {o["id"] for o in posted["objects"]}
        receipts = {o["id"]: o["extensions"][stix.EXTENSION_ID]["receipt"] for o in served}
        assert receipts == {i: r.token for i, r in outcome.receipts.items()}
        # The objects the gateway serves carry what was signed: posted again, they are the
        # same versions.
        relayed = found.add_objects({"objects": served})
        assert relayed.success_count == 3
        assert not any(s["x_exchange_created"] for s in relayed.successes)
        status_entry = audit_entry(app, polled_request_id(police, status.id))
        assert (status_entry["action"], status_entry["details"]["status"]) == (
            "taxii.status",
            status.id,
        )

    def test_one_forged_signature_fails_alone(
        self, app: Flask, world: World, server: ExchangeServer
    ) -> None:
        immigration = world.agency("immigration")
        good = [immigration.envelope("illegal_employment") for _ in range(2)]
        bad = immigration.envelope("illegal_employment")
        posted = signed_objects(immigration, good[0], bad, good[1])
        posted["objects"][1] = forged(posted["objects"][1], posted["objects"][0])
        bare = {k: v for k, v in posted["objects"][2].items() if k != "extensions"}
        posted["objects"].append(bare)
        status = collection(immigration, "illegal_employment").add_objects(posted)
        assert (status.total_count, status.success_count, status.failure_count) == (4, 2, 2)
        assert [s["id"] for s in status.successes] == [
            posted["objects"][0]["id"],
            posted["objects"][2]["id"],
        ]
        failures = {f["id"]: f for f in status.failures}
        assert set(failures) == {posted["objects"][1]["id"], bare["id"]}
        signature = failures[posted["objects"][1]["id"]]
        assert signature["x_exchange_code"] == "signature_invalid"
        assert signature["message"] and signature["version"] == posted["objects"][1]["modified"]
        missing = failures[bare["id"]]
        assert missing["x_exchange_code"] == "extension_missing"
        assert stix.EXTENSION_ID in missing["message"]
        with immigration.client() as client:
            outcome = status_receipts(client, status._raw, [*good, bad])
            assert {f.code for f in outcome.failures} == {"signature_invalid", "extension_missing"}
            receipt = next(iter(outcome.receipts.values()))
        entry = audit_entry(app, receipt.audit_entry)
        # The entry names what was published; what was refused, by its code.
        assert {t["id"] for t in entry["targets"]} == {e["id"] for e in good}
        assert entry["details"]["refused"] == {"extension_missing": 1, "signature_invalid": 1}
        with immigration.client() as client:
            for envelope in good:
                assert client.get(envelope["id"], purpose="investigation").record == envelope
            with pytest.raises(Exception, match="record_not_found"):
                client.get(bad["id"], purpose="investigation")

    def test_a_record_in_the_wrong_collection_or_unreadable_fails_with_a_message(
        self, world: World, server: ExchangeServer
    ) -> None:
        police = world.agency("police")
        school = police.envelope("school")
        broker = police.envelope("broker")
        posted = signed_objects(police, school, broker)
        mismatched = json.loads(json.dumps(posted["objects"][1]))
        mismatched["id"] = stix.primary_object_id(school["id"], "broker")
        unreadable = json.loads(json.dumps(posted["objects"][1]))
        unreadable["extensions"][stix.EXTENSION_ID]["envelope"] = '{"id": 1, "id": 2}'
        posted["objects"] += [mismatched, unreadable, "not an object"]
        status = collection(police, "broker").add_objects(posted)
        assert (status.success_count, status.failure_count) == (1, 4)
        codes = [f["x_exchange_code"] for f in status.failures]
        assert codes == [
            "wrong_collection",
            "object_mismatch",
            "envelope_invalid",
            "object_invalid",
        ]
        assert collection_id("school") in status.failures[0]["message"]
        assert all(f["message"] for f in status.failures)

    def test_the_same_version_again_is_a_success_with_the_original_receipt(
        self, world: World, server: ExchangeServer
    ) -> None:
        mofa = world.agency("mofa")
        envelope = mofa.envelope("school")
        found = collection(mofa, "school")
        first = found.add_objects(signed_objects(mofa, envelope))
        again = found.add_objects(signed_objects(mofa, envelope))
        assert first.id != again.id and again.success_count == 1
        (before,), (after,) = first.successes, again.successes
        assert (before["x_exchange_created"], after["x_exchange_created"]) == (True, False)
        assert after["x_exchange_receipt"] == before["x_exchange_receipt"]
        amended = dict(envelope, version=2, status="withdrawn", reason="Entered in error.")
        changed = found.add_objects(signed_objects(mofa, amended))
        assert changed.success_count == 1 and changed.successes[0]["x_exchange_created"]
        conflict = found.add_objects(
            signed_objects(mofa, dict(envelope, evaluation={"source": "C", "information": "3"}))
        )
        assert conflict.failures[0]["x_exchange_code"] == "version_conflict"


class TestRefusals:
    def test_a_non_writer_is_refused_with_403_and_audited(
        self, app: Flask, world: World, server: ExchangeServer
    ) -> None:
        mext = world.agency("mext")
        envelope = mext.envelope("school")
        found = collection(mext, "school")
        assert found.can_read and not found.can_write
        with pytest.raises(AccessError):
            found.add_objects(signed_objects(mext, envelope))
        answer = post(mext, "school", signed_objects(mext, envelope))
        assert (answer.status_code, answer.headers["Content-Type"]) == (403, TAXII)
        error = answer.json()
        assert error["error_code"] == "collection_read_only"
        entry = audit_entry(app, error["error_id"])
        assert (entry["action"], entry["outcome"]) == ("record.publish", "denied")
        labour = world.agency("labour")
        refused = post(labour, "school", signed_objects(labour, labour.envelope("broker")))
        assert (refused.status_code, refused.json()["error_code"]) == (403, "policy_denied")

    def test_a_status_is_only_for_the_agency_that_posted(
        self, app: Flask, world: World, server: ExchangeServer
    ) -> None:
        police, other = world.agency("police"), world.agency("police")
        status = collection(police, "broker").add_objects(
            signed_objects(police, police.envelope("broker"))
        )
        status_url = url(police, f"api/status/{status.id}/")
        with raw(police) as session:
            assert session.get(status_url).json()["id"] == status.id
        for asking, path in (
            (other, f"api/status/{status.id}/"),
            (police, "api/status/0193a1b2-0000-7000-8000-000000000000/"),
            (police, "api/status/not-a-status/"),
        ):
            with raw(asking) as session:
                answer = session.get(url(asking, path))
            assert (answer.status_code, answer.json()["error_code"]) == (404, "status_not_found")
            entry = audit_entry(app, answer.json()["error_id"])
            assert (entry["action"], entry["outcome"]) == ("taxii.status", "invalid")

    def test_bad_envelopes_and_sizes(
        self, app: Flask, world: World, server: ExchangeServer
    ) -> None:
        police = world.agency("police")
        envelopes = [police.envelope("broker") for _ in range(3)]
        posted = signed_objects(police, *envelopes)
        wrong_type = post(police, "broker", posted, **{"Content-Type": "application/json"})
        assert (wrong_type.status_code, wrong_type.json()["error_code"]) == (
            415,
            "unsupported_media_type",
        )
        for body, code in (
            (b"{", "json_invalid"),
            ({"objects": []}, "envelope_invalid"),
            ([], "envelope_invalid"),
        ):
            answer = post(police, "broker", body)
            assert answer.json()["error_code"] == code and answer.status_code in (400, 422)
        huge = declared_over_limit(
            police,
            "/taxii2/api/collections/" + collection_id("broker") + "/objects/",
            content_type=TAXII,
            limit=app.config["MAX_CONTENT_LENGTH"],
        )
        assert (huge[0], huge[1]["error_code"]) == (413, "body_too_large")
        nothing = collection(police, "broker").add_objects({"objects": ["x", {"type": "note"}]})
        assert (nothing.success_count, nothing.failure_count) == (0, 2)
        with configured(app, EXCHANGE_MAX_BATCH=2):
            status = collection(police, "broker").add_objects(posted)
        assert (status.success_count, status.failure_count) == (2, 1)
        (over,) = status.failures
        assert over["x_exchange_code"] == "batch_too_large"
        assert over["id"] == posted["objects"][2]["id"] and "At most 2" in over["message"]


def polled_request_id(system: AgencySystem, status_id: str) -> str:
    with raw(system) as session:
        answer = session.get(url(system, f"api/status/{status_id}"))
    assert answer.status_code == 200, answer.text
    return str(answer.headers["Exchange-Request-Id"])


def test_the_stix_object_of_a_signed_envelope_is_what_the_gateway_reads(
    world: World,
) -> None:
    police = world.agency("police")
    envelope = police.envelope("illegal_employment")
    client = ExchangeClient.from_bundle(police.bundle_dir, base_url="https://127.0.0.1:0")
    obj = stix_object(client, envelope)
    extension = obj["extensions"][stix.EXTENSION_ID]
    assert obj["id"] == stix.primary_object_id(envelope["id"], "illegal_employment")
    assert json.loads(extension["envelope"]) == envelope
    assert "receipt" not in extension and extension["signature"] == police.sign(envelope)
    assert validate_instance(obj, STRICT).is_valid
