"""The TAXII 2.1 gateway, driven by taxii2-client over real mutual TLS."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import stix2
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DatabaseError
from stix2validator import ValidationOptions, validate_instance
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from exchange.clock import rfc3339, utcnow
from exchange.extensions import db
from exchange.feeds.models import FeedPosition
from exchange.records.models import RecordTag
from exchange.serving import ExchangeServer
from exchange.taxii import stix
from exchange.taxii.service import collection_id
from exchange.trail.models import AuditEntry
from keys.jcs import canonicalize
from keys.jwk import load_public_jwk
from keys.jws import read_header, verify_detached
from schemas import RECORD_SIGNATURE_TYPE
from tests.exchange import test_retention as retention
from tests.exchange.helpers import audit_entry, load_migration
from tests.exchange.test_feeds import integrate
from tests.factories import AgencySystem, World
from tests.isolated import isolated_app, owner_connection

TAXII = "application/taxii+json;version=2.1"
STRICT = ValidationOptions(strict=True, version="2.1")


@pytest.fixture(autouse=True)
def _own_ca(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests lets REQUESTS_CA_BUNDLE replace the verify that taxii2-client sets.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


def tls(system: AgencySystem) -> dict[str, Any]:
    root = system.bundle_dir
    return {
        "cert": (str(root / "client.pem"), str(root / "client.key.pem")),
        "verify": str(root / "ca.pem"),
    }


def url(system: AgencySystem, path: str = "") -> str:
    return f"{system.world.api_url}/taxii2/{path}"


def collection(system: AgencySystem, record_type: str, purpose: str | None = None) -> Collection:
    found = Collection(url(system, f"api/collections/{collection_id(record_type)}/"), **tls(system))
    found._conn.session.trust_env = False
    if purpose:
        found._conn.session.headers["Exchange-Purpose"] = purpose
    return found


def raw(system: AgencySystem) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.cert = tls(system)["cert"]
    session.verify = tls(system)["verify"]
    session.headers["Accept"] = TAXII
    return session


def publish(system: AgencySystem, *envelopes: dict[str, Any]) -> None:
    with system.client() as exchange:
        exchange.publish_batch(list(envelopes))


def primary_id(envelope: dict[str, Any]) -> str:
    return stix.object_ids(envelope)[0]


def record_ids(objects: list[dict[str, Any]]) -> list[str]:
    return [
        o["extensions"][stix.EXTENSION_ID]["record_id"]
        for o in objects
        if stix.EXTENSION_ID in o.get("extensions", {})
    ]


class TestDiscovery:
    def test_server_api_root_and_collections_follow_the_policy(
        self, world: World, server: ExchangeServer
    ) -> None:
        labour = world.agency("labour")
        found = Server(url(labour), **tls(labour))
        found._conn.session.trust_env = False
        assert found.title and len(found.api_roots) == 1
        root = found.default
        assert isinstance(root, ApiRoot)
        assert root.versions == [TAXII]
        aliases = {c.alias: c for c in root.collections}
        # DESIGN §5: labour bureaus read and publish brokers and illegal employment, not
        # schools.
        assert set(aliases) == {"broker", "illegal_employment"}
        assert all(c.can_read and c.can_write for c in aliases.values())
        assert aliases["broker"].id == collection_id("broker")
        assert aliases["broker"].media_types == ["application/stix+json;version=2.1"]

    def test_a_type_the_caller_may_not_read_is_a_taxii_error(
        self, app: Flask, world: World, server: ExchangeServer
    ) -> None:
        labour = world.agency("labour")
        with raw(labour) as session:
            answer = session.get(
                url(labour, f"api/collections/{collection_id('school')}/objects/"),
                headers={"Exchange-Purpose": "labour_inspection"},
            )
        assert answer.status_code == 403
        assert answer.headers["Content-Type"] == TAXII
        error = answer.json()
        assert error["error_code"] == "policy_denied" and error["http_status"] == "403"
        assert error["details"]["request_id"] == error["error_id"]
        entry = audit_entry(app, error["error_id"])
        assert (entry["action"], entry["outcome"]) == ("taxii.objects", "denied")

    def test_errors_and_negotiation(self, world: World, server: ExchangeServer) -> None:
        police = world.agency("police")
        broker = url(police, f"api/collections/{collection_id('broker')}/objects/")
        with raw(police) as session:
            other = session.get(broker, headers={"Accept": "application/json"})
            assert (other.status_code, other.headers["Content-Type"]) == (406, TAXII)
            assert session.get(
                broker, headers={"Accept": "application/taxii+json"}
            ).status_code in (
                200,
                400,
            )
            missing = session.get(url(police, "api/collections/nope/"))
            assert (missing.status_code, missing.json()["error_code"]) == (
                404,
                "collection_not_found",
            )
            written = session.post(
                broker,
                data=json.dumps({"objects": []}),
                headers={"Content-Type": TAXII, "Exchange-Purpose": "investigation"},
            )
            assert (written.status_code, written.json()["error_code"]) == (
                422,
                "envelope_invalid",
            )
            bad = session.get(
                broker, params={"next": "bm90IGEgY3Vyc29y"}, headers={"Exchange-Purpose": "audit"}
            )
            assert (bad.status_code, bad.json()["error_code"]) == (400, "next_invalid")
        with requests.Session() as anonymous:
            anonymous.trust_env = False
            anonymous.verify = tls(police)["verify"]
            with pytest.raises(requests.exceptions.SSLError):
                anonymous.get(url(police), timeout=10)


class TestObjects:
    def test_objects_validate_parse_and_carry_a_verifiable_signature(
        self, app: Flask, world: World, server: ExchangeServer
    ) -> None:
        police = world.agency("police")
        since = rfc3339(utcnow() - timedelta(seconds=1))
        envelopes = [police.envelope(t) for t in ("broker", "school", "illegal_employment")]
        publish(police, *envelopes)
        integrate(app)
        with police.client() as exchange:
            jwks = exchange.request("GET", f"/api/v1/agencies/{police.agency}/jwks")["keys"]
        keys = {k["kid"]: load_public_jwk(k) for k in jwks}
        for envelope in envelopes:
            found = collection(police, envelope["type"], purpose="investigation")
            # Records other tests left unintegrated are added in the same moment as these.
            pages = as_pages(found.get_objects, per_request=100, added_after=since)
            objects = [o for page in pages for o in page.get("objects", [])]
            mine = [o for o in objects if envelope["id"] in json.dumps(o)]
            assert mine and mine[0]["id"] == primary_id(envelope)
            for obj in mine:
                assert validate_instance(obj, STRICT).is_valid
                stix2.parse(obj, allow_custom=False)
            extension = mine[0]["extensions"][stix.EXTENSION_ID]
            # A STIX consumer's check: RFC 8785 bytes, the publisher's key from its JWKS.
            canonical = canonicalize(json.loads(extension["envelope"]))
            assert json.loads(canonical) == envelope
            key = keys[read_header(extension["signature"]).kid]
            verify_detached(extension["signature"], canonical, key=key, typ=RECORD_SIGNATURE_TYPE)

    def test_paging_with_limit_and_next_loses_and_repeats_nothing(
        self, app: Flask, world: World, server: ExchangeServer
    ) -> None:
        police = world.agency("police")
        since = rfc3339(utcnow() - timedelta(seconds=1))
        envelopes = [police.envelope("broker") for _ in range(7)]
        publish(police, *envelopes)
        integrate(app)
        found = collection(police, "broker", purpose="investigation")
        pages = list(as_pages(found.get_objects, per_request=4, added_after=since))
        assert len(pages) > 2
        assert all(len(p.get("objects", [])) <= 4 for p in pages)
        assert all(p.get("more") for p in pages[:-1]) and not pages[-1].get("more")
        ids = [o["id"] for p in pages for o in p.get("objects", [])]
        assert len(ids) == len(set(ids))
        assert set(record_ids([o for p in pages for o in p.get("objects", [])])) >= {
            e["id"] for e in envelopes
        }
        manifest = list(as_pages(found.get_manifest, per_request=5, added_after=since))
        assert [m["id"] for p in manifest for m in p.get("objects", [])] == ids

    def test_match_filters_versions_and_manifest(
        self, app: Flask, world: World, server: ExchangeServer
    ) -> None:
        police = world.agency("police")
        envelope = police.envelope("school")
        publish(police, envelope)
        amended = json.loads(json.dumps(envelope))
        amended.update(version=2, issued_at=rfc3339(utcnow().replace(microsecond=0)))
        if amended["issued_at"] <= envelope["issued_at"]:
            time.sleep(1.1)
            amended["issued_at"] = rfc3339(utcnow().replace(microsecond=0))
        publish(police, amended)
        integrate(app)
        found = collection(police, "school", purpose="visa_screening")
        school_id = primary_id(envelope)
        by_id = found.get_objects(id=school_id)["objects"]
        assert [o["id"] for o in by_id] == [school_id]
        latest = found.get_object(school_id)["objects"]
        assert len(latest) == 1 and latest[0]["modified"].startswith(amended["issued_at"][:19])
        every = found.get_objects(id=school_id, version="all")["objects"]
        assert [o["modified"] for o in every] == sorted(o["modified"] for o in every)
        assert len(every) == 2 and every[0]["created"] == every[1]["created"]
        first = found.get_objects(id=school_id, version="first")["objects"]
        assert first == [every[0]]
        exact = found.get_objects(id=school_id, version=every[0]["modified"])["objects"]
        assert exact == [every[0]]
        versions = found.object_versions(school_id)["versions"]
        assert versions == [o["modified"] for o in every]
        notes = found.get_objects(id=",".join(stix.object_ids(envelope)), type="note")["objects"]
        assert [o["type"] for o in notes] == ["note"] and notes[0]["object_refs"] == [school_id]
        manifest = found.get_manifest(id=school_id, version="all")["objects"]
        assert [m["version"] for m in manifest] == versions
        assert all(m["media_type"] == "application/stix+json;version=2.1" for m in manifest)
        with raw(police) as session:
            answer = session.get(
                found.objects_url,
                params={"match[id]": school_id, "match[version]": "all"},
                headers={"Exchange-Purpose": "visa_screening"},
            )
        added = [m["date_added"] for m in manifest]
        assert answer.headers["X-TAXII-Date-Added-First"] == added[0]
        assert answer.headers["X-TAXII-Date-Added-Last"] == added[-1]
        assert found.get_objects(id=school_id, type="threat-actor") == {}

    def test_a_withdrawal_is_revoked_and_an_audience_narrows(
        self, app: Flask, world: World, server: ExchangeServer
    ) -> None:
        immigration, police, labour = (
            world.agency("immigration"),
            world.agency("police"),
            world.agency("labour"),
        )
        narrowed = immigration.envelope("illegal_employment")
        narrowed["handling"] = dict(narrowed["handling"], audience=[labour.agency])
        withdrawn = immigration.envelope("illegal_employment")
        publish(immigration, narrowed, withdrawn)
        gone = dict(
            withdrawn,
            version=2,
            status="withdrawn",
            reason="Entered in error.",
            issued_at=rfc3339(utcnow().replace(microsecond=0) + timedelta(seconds=1)),
        )
        publish(immigration, gone)
        integrate(app)
        ids = ",".join([primary_id(narrowed), primary_id(withdrawn)])
        seen_by_labour = collection(labour, "illegal_employment", "labour_inspection")
        objects = seen_by_labour.get_objects(id=ids)["objects"]
        assert {o["id"] for o in objects} == {primary_id(narrowed), primary_id(withdrawn)}
        assert [o.get("revoked", False) for o in objects if o["id"] == primary_id(withdrawn)] == [
            True
        ]
        narrowed_object = next(o for o in objects if o["id"] == primary_id(narrowed))
        assert narrowed_object["object_marking_refs"][0] == stix.TLP_RED
        seen_by_police = collection(police, "illegal_employment", "investigation")
        assert [o["id"] for o in seen_by_police.get_objects(id=ids)["objects"]] == [
            primary_id(withdrawn)
        ]


class TestPurpose:
    def test_a_read_without_purpose_is_refused_then_the_standing_purpose_stands_in(
        self, app: Flask, runner: FlaskCliRunner, world: World, server: ExchangeServer
    ) -> None:
        otit = world.agency("otit")
        objects = url(otit, f"api/collections/{collection_id('broker')}/objects/")
        with raw(otit) as session:
            refused = session.get(objects)
            assert (refused.status_code, refused.json()["error_code"]) == (
                400,
                "purpose_required",
            )
            assert audit_entry(app, refused.json()["error_id"])["outcome"] == "invalid"
            result = runner.invoke(args=["system", "purpose", otit.agency, "gateway", "licensing"])
            assert result.exit_code == 0, result.output
            standing = session.get(objects, params={"limit": 1})
            stated = session.get(objects, headers={"Exchange-Purpose": "audit"})
            manifest = session.get(objects.replace("/objects/", "/manifest/"))
        assert standing.status_code == 200
        entry = audit_entry(app, standing.headers["Exchange-Request-Id"])
        assert (entry["action"], entry["purpose"]) == ("taxii.objects", "licensing")
        assert audit_entry(app, stated.headers["Exchange-Request-Id"])["purpose"] == "audit"
        assert audit_entry(app, manifest.headers["Exchange-Request-Id"])["purpose"] == "licensing"
        with app.app_context():
            recent = db.session.scalars(
                select(AuditEntry.canonical).order_by(AuditEntry.seq.desc()).limit(50)
            ).all()
        changes = [json.loads(bytes(c)) for c in recent]
        assert any(
            c["action"] == "admin.system.purpose" and c["details"]["agency"] == otit.agency
            for c in changes
        )

    def test_every_read_names_the_versions_it_returned(
        self, app: Flask, world: World, server: ExchangeServer
    ) -> None:
        mext = world.agency("mext")
        police = world.agency("police")
        envelope = police.envelope("school")
        publish(police, envelope)
        integrate(app)
        with raw(mext) as session:
            answer = session.get(
                url(mext, f"api/collections/{collection_id('school')}/objects/"),
                params={"match[id]": primary_id(envelope)},
                headers={"Exchange-Purpose": "licensing"},
            )
        entry = audit_entry(app, answer.headers["Exchange-Request-Id"])
        assert [envelope["id"], 1] in [[t["id"], t["version"]] for t in entry["targets"]]


class TestFollowing:
    def test_following_with_added_after_while_publishing_loses_nothing(
        self, app: Flask, world: World, server: ExchangeServer
    ) -> None:
        publishers = [world.agency("immigration"), world.agency("police")]
        follower = world.agency("otit")
        expected: dict[str, str] = {}
        lock = threading.Lock()
        failures: list[BaseException] = []

        def publishing(system: AgencySystem) -> None:
            try:
                for _ in range(6):
                    batch = [system.envelope("broker") for _ in range(3)]
                    with lock:
                        expected.update({primary_id(e): e["id"] for e in batch})
                    publish(system, *batch)
            except BaseException as error:  # pragma: no cover - reported below
                failures.append(error)

        found = collection(follower, "broker", purpose="licensing")
        added_after = rfc3339(utcnow() - timedelta(seconds=1))
        seen: list[str] = []
        threads = [threading.Thread(target=publishing, args=(p,)) for p in publishers]
        for thread in threads:
            thread.start()
        for _ in range(200):
            integrate(app)
            for page in as_pages(found.get_manifest, per_request=5, added_after=added_after):
                entries = page.get("objects", [])
                seen += [m["id"] for m in entries if m["id"].startswith("threat-actor--")]
                if entries:
                    added_after = entries[-1]["date_added"]
            done = not any(t.is_alive() for t in threads)
            if done and set(expected) <= set(seen):
                break
            time.sleep(0.05)
        for thread in threads:
            thread.join(timeout=30)
        assert not failures
        mine = [i for i in seen if i in expected]
        assert len(mine) == len(set(mine)), "an object came twice"
        assert set(mine) == set(expected)


def test_the_migration_fills_what_the_integrator_and_publishing_write(tmp_path: Path) -> None:
    """Migration 0010 derives dates added and STIX ids for what was stored before it."""
    migration = load_migration("0010_taxii.py")
    with isolated_app(tmp_path / "instance") as app:
        world = World(app, tmp_path / "bundles")
        immigration = world.agency("immigration")
        client = app.test_client()
        for batch in (
            [immigration.envelope("broker")],
            [
                immigration.envelope("illegal_employment"),
                immigration.envelope("broker"),
            ],
        ):
            answer = client.post(
                "/api/v1/records",
                json={"records": [immigration.submission(e) for e in batch]},
                environ_base=immigration.environ(),
            )
            assert answer.status_code == 201, answer.json
        integrate(app)
        dates = select(FeedPosition.position, FeedPosition.added_at).order_by(FeedPosition.position)
        tags = (
            select(RecordTag.value, RecordTag.record_pk)
            .where(RecordTag.kind == "stix")
            .order_by(RecordTag.value)
        )
        with app.app_context():
            written = db.session.execute(dates).all(), db.session.execute(tags).all()
            db.session.remove()

        def refill(connection: Connection) -> None:
            connection.execute(update(FeedPosition.__table__).values(added_at=None))
            migration._fill_added_at(connection)

        # Migrations run as the schema's owner: the serving role may not lift triggers.
        with owner_connection(app) as connection:
            migration._with_feed_writable(connection, refill)
            migration._fill_stix_tags(connection)
            filled = connection.execute(dates).all(), connection.execute(tags).all()
            with pytest.raises(DatabaseError), connection.begin_nested():
                connection.execute(update(FeedPosition.__table__).values(added_at=None))
    assert filled == written
    assert len(written[0]) == 3 and len(written[1]) >= 3 * 3
    assert [d for _, d in written[0]] == sorted({d for _, d in written[0]})


def test_a_disposed_version_leaves_its_collection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with isolated_app(tmp_path / "instance") as app:
        police = World(app, tmp_path / "bundles").agency("police")
        kept = retention.publish(app, police, until="2099-03-31")
        due = retention.publish(app, police, until=retention.today())
        integrate(app)
        client = app.test_client()
        objects = f"/taxii2/api/collections/{collection_id('broker')}/objects/"
        headers = {"Accept": TAXII, "Exchange-Purpose": "investigation"}

        def served() -> set[str]:
            answer = client.get(objects, headers=headers, environ_base=police.environ())
            assert answer.status_code == 200, answer.get_data(as_text=True)
            return set(record_ids(answer.get_json().get("objects", [])))

        assert served() >= {kept["id"], due["id"]}
        retention.run_retention(app, monkeypatch)
        assert kept["id"] in served() and due["id"] not in served()
