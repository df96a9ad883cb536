"""Retention: disposal destroys a record's payload and search rows and keeps its proof;
legal holds, four eyes, and what the database still refuses on ``record_version``.

On an exchange of its own: disposal is run with a clock days ahead, which would dispose
of the shared exchange's records too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.exc import DatabaseError

from exchange.extensions import db
from exchange.pki.vault import load_vault
from exchange.records.models import Record, RecordCard, RecordGram, RecordTag, RecordVersion
from exchange.retention.models import LegalHold, RecordDisposal
from exchange.retention.running import scheduled_run
from exchange.trail.integrator_process import build_integrator
from exchange.trail.models import AuditEntry
from keys.jws import verify_compact
from schemas import RECEIPT_SIGNATURE_TYPE
from tests.factories import AgencySystem, World
from tests.isolated import isolated_app
from tests.web.pages import Browser

PURPOSE = {"Exchange-Purpose": "investigation"}
LATER = datetime.now(UTC) + timedelta(days=2)


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    with isolated_app(tmp_path_factory.mktemp("retention")) as app:
        yield app


@pytest.fixture(scope="module")
def world(exchange: Flask, tmp_path_factory: pytest.TempPathFactory) -> World:
    return World(exchange, tmp_path_factory.mktemp("bundles"))


@pytest.fixture(scope="module")
def police(world: World) -> AgencySystem:
    return world.agency("police")


def publish(app: Flask, system: AgencySystem, *, until: str) -> dict[str, Any]:
    envelope = system.envelope()
    envelope["handling"] = dict(envelope["handling"], retention_until=until)
    response = app.test_client().post(
        "/api/v1/records", json=system.submission(envelope), environ_base=system.environ()
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return envelope


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def integrate(app: Flask) -> None:
    with app.app_context():
        build_integrator(app).integrate(checkpoint=True)
        db.session.remove()


def run_retention(app: Flask, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr("exchange.cli.retention.utcnow", lambda: LATER)
    result = app.test_cli_runner().invoke(args=["retention", "run"])
    assert result.exit_code == 0, result.output
    return result.output


def as_operator(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setattr("exchange.cli.operator.getpass.getuser", lambda: name)


def ask_for_hold(app: Flask, monkeypatch: pytest.MonkeyPatch, record_id: str, *, as_: str) -> int:
    as_operator(monkeypatch, as_)
    status, output = cli(app, "retention", "hold", record_id, "--reason", "court order")
    assert status == 0, output
    return int(output.split()[1])


def cli(app: Flask, *arguments: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=list(arguments))
    return result.exit_code, result.output


def stored(app: Flask, record_id: str) -> tuple[Record, RecordVersion]:
    with app.app_context():
        record = db.session.scalars(select(Record).where(Record.id == record_id)).one()
        version = db.session.scalars(
            select(RecordVersion).where(RecordVersion.record_pk == record.pk)
        ).one()
        db.session.expunge_all()
    return record, version


def last_entry(app: Flask, action: str) -> dict[str, Any]:
    with app.app_context():
        for canonical in db.session.scalars(
            select(AuditEntry.canonical).order_by(AuditEntry.seq.desc())
        ):
            entry: dict[str, Any] = json.loads(canonical)
            if entry["action"] == action:
                return entry
    raise AssertionError(f"no {action} entry")


class TestDisposal:
    def test_a_disposed_record_keeps_its_proof_and_the_log_verifies(
        self, exchange: Flask, police: AgencySystem, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        due = publish(exchange, police, until=today())
        kept = publish(exchange, police, until=(LATER + timedelta(days=30)).date().isoformat())
        _, before = stored(exchange, due["id"])
        output = run_retention(exchange, monkeypatch)
        assert "disposed of 1 records" in output

        record, after = stored(exchange, due["id"])
        assert record.status == "disposed" and record.names == "" and record.countries == ","
        assert bytes(after.canonical) == b""
        assert (after.sha256, after.signature, after.receipt) == (
            before.sha256,
            before.signature,
            before.receipt,
        )
        assert stored(exchange, kept["id"])[0].status == "active"
        with exchange.app_context():
            for table in (RecordCard, RecordGram, RecordTag):
                assert not db.session.scalars(
                    select(table).where(table.record_pk == record.pk)
                ).all()
            disposal = db.session.get(RecordDisposal, (record.pk, 1))
            assert disposal is not None
            vault = load_vault()
        entry = last_entry(exchange, "retention.dispose")
        assert entry["id"] == disposal.audit_entry_id
        assert {"id": due["id"], "version": 1} in entry["targets"]

        # The receipt still proves what was received: its digest is the stored one.
        _, payload = verify_compact(
            after.receipt, key=vault.receipt_signer()[0].public_key(), typ=RECEIPT_SIGNATURE_TYPE
        )
        claims = json.loads(payload)
        assert claims["sha256"] == after.sha256 == hashlib.sha256(before.canonical).hexdigest()

        integrate(exchange)
        status, output = cli(exchange, "audit", "verify")
        assert status == 0, output

    def test_the_servers_scheduled_run_disposes_and_audits_as_the_exchange(
        self, exchange: Flask, police: AgencySystem
    ) -> None:
        due = publish(exchange, police, until=today())
        assert scheduled_run(exchange, clock=lambda: LATER) >= 1
        assert stored(exchange, due["id"])[0].status == "disposed"
        entry = last_entry(exchange, "retention.dispose")
        assert entry["actor"] == {"kind": "exchange", "system": "retention"}
        assert {"id": due["id"], "version": 1} in entry["targets"]
        assert scheduled_run(exchange, clock=lambda: LATER) == 0

    def test_reads_of_a_disposed_record_answer_410(
        self, exchange: Flask, police: AgencySystem, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        due = publish(exchange, police, until=today())
        run_retention(exchange, monkeypatch)
        client = exchange.test_client()
        for path in (f"/api/v1/records/{due['id']}", f"/api/v1/records/{due['id']}/versions"):
            response = client.get(path, headers=PURPOSE, environ_base=police.environ())
            assert response.status_code == 410
            assert response.json is not None and response.json["code"] == "record_disposed"
        found = client.get(
            "/api/v1/records",
            query_string={"type": "broker"},
            headers=PURPOSE,
            environ_base=police.environ(),
        )
        assert found.status_code == 200 and found.json is not None
        assert due["id"] not in {item["record"]["id"] for item in found.json["items"]}

    def test_a_new_version_of_a_disposed_record_is_refused(
        self, exchange: Flask, police: AgencySystem, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        due = publish(exchange, police, until=today())
        run_retention(exchange, monkeypatch)
        amended = dict(due, version=2)
        response = exchange.test_client().post(
            "/api/v1/records", json=police.submission(amended), environ_base=police.environ()
        )
        assert response.status_code == 410
        assert response.json is not None and response.json["code"] == "record_disposed"

    def test_a_feed_passes_over_disposed_versions(
        self, exchange: Flask, world: World, police: AgencySystem, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        reader = world.agency("immigration")
        client = exchange.test_client()
        created = client.post(
            "/api/v1/subscriptions",
            json={"name": "all", "types": ["broker"], "mode": "pull"},
            environ_base=reader.environ(),
        )
        assert created.status_code == 201 and created.json is not None
        events = f"/api/v1/subscriptions/{created.json['id']}/events"
        due = publish(exchange, police, until=today())
        kept = publish(exchange, police, until=(LATER + timedelta(days=30)).date().isoformat())
        integrate(exchange)

        def pulled() -> list[str]:
            response = client.get(
                events,
                query_string={"after": 0, "limit": 1000},
                headers=PURPOSE,
                environ_base=reader.environ(),
            )
            assert response.status_code == 200 and response.json is not None
            return [event["record"]["id"] for event in response.json["events"]]

        assert {due["id"], kept["id"]} <= set(pulled())
        run_retention(exchange, monkeypatch)
        after = pulled()
        assert due["id"] not in after and kept["id"] in after

    def test_the_record_page_answers_410(
        self, exchange: Flask, world: World, police: AgencySystem, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        due = publish(exchange, police, until=today())
        run_retention(exchange, monkeypatch)
        browser = Browser(exchange)
        browser.sign_in(world.person(police.agency, "liaison"))
        response = browser.get(f"/records/{due['id']}?purpose=investigation")
        assert response.status_code == 410
        assert "record_disposed" in response.get_data(as_text=True)


class TestLegalHold:
    def test_a_held_record_is_not_disposed_until_the_hold_is_lifted(
        self, exchange: Flask, police: AgencySystem, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        held = publish(exchange, police, until=today())
        hold_id = ask_for_hold(exchange, monkeypatch, held["id"], as_="alice")
        as_operator(monkeypatch, "bob")
        status, output = cli(exchange, "retention", "approve", str(hold_id))
        assert status == 0, output
        assert "1 past their date are held" in run_retention(exchange, monkeypatch)
        assert stored(exchange, held["id"])[0].status == "active"

        status, output = cli(exchange, "retention", "lift", str(hold_id), "--reason", "case closed")
        assert status == 0, output
        assert last_entry(exchange, "admin.hold.lift")["targets"] == [
            {"id": held["id"], "version": 1}
        ]
        run_retention(exchange, monkeypatch)
        assert stored(exchange, held["id"])[0].status == "disposed"

    def test_the_administrator_who_asked_cannot_approve(
        self, exchange: Flask, police: AgencySystem, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        record = publish(exchange, police, until=today())
        hold_id = ask_for_hold(exchange, monkeypatch, record["id"], as_="alice")
        status, output = cli(exchange, "retention", "approve", str(hold_id))
        assert status == 1 and "A second administrator must approve" in output
        entry = last_entry(exchange, "admin.hold.approve")
        assert entry["outcome"] == "denied" and entry["details"]["error"] == "four_eyes_required"
        assert entry["actor"] == {"kind": "operator", "operator": "alice"}
        with exchange.app_context():
            hold = db.session.get(LegalHold, hold_id)
            assert hold is not None and hold.approved_at is None

    def test_a_hold_needs_a_reason(
        self, exchange: Flask, police: AgencySystem, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        record = publish(exchange, police, until=today())
        status, output = cli(exchange, "retention", "hold", record["id"], "--reason", "  ")
        assert status == 1 and "A reason is required" in output


class TestAppendOnly:
    def test_canonical_cannot_be_emptied_without_a_disposal(
        self, exchange: Flask, police: AgencySystem
    ) -> None:
        record = publish(exchange, police, until=today())
        pk = stored(exchange, record["id"])[0].pk
        version = RecordVersion.__table__
        with exchange.app_context(), pytest.raises(DatabaseError):
            try:
                db.session.execute(
                    update(version).where(version.c.record_pk == pk).values(canonical=b"")
                )
            finally:
                db.session.rollback()

    def test_a_disposed_version_keeps_every_other_column(
        self, exchange: Flask, police: AgencySystem, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        record = publish(exchange, police, until=today())
        run_retention(exchange, monkeypatch)
        pk = stored(exchange, record["id"])[0].pk
        version = RecordVersion.__table__
        with exchange.app_context(), pytest.raises(DatabaseError):
            try:
                db.session.execute(
                    update(version).where(version.c.record_pk == pk).values(sha256="0" * 64)
                )
            finally:
                db.session.rollback()

    def test_disposals_are_append_only(
        self, exchange: Flask, police: AgencySystem, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        publish(exchange, police, until=today())
        run_retention(exchange, monkeypatch)
        disposal = RecordDisposal.__table__
        with exchange.app_context():
            for statement in (disposal.delete(), disposal.update().values(version=99)):
                with pytest.raises(DatabaseError):
                    try:
                        db.session.execute(statement)
                    finally:
                        db.session.rollback()


class TestHoldPages:
    def test_an_administrator_asks_another_approves_and_the_asker_cannot(
        self, exchange: Flask, world: World, police: AgencySystem
    ) -> None:
        record = publish(exchange, police, until=today())
        first, second = (world.person(police.agency, "admin") for _ in range(2))
        asker = Browser(exchange)
        asker.sign_in(first)
        asker.get("/")
        asker.post("/language", {"lang": "en", "next": "/"})
        page = asker.get("/admin/holds")
        assert page.status_code == 200 and "Legal holds" in page.get_data(as_text=True)
        response = asker.post("/admin/holds", {"record_id": record["id"], "reason": "  "})
        assert response.status_code == 422
        response = asker.post(
            "/admin/holds", {"record_id": record["id"], "reason": "prosecutor's request"}
        )
        assert response.status_code == 302
        with exchange.app_context():
            hold = db.session.scalars(
                select(LegalHold).order_by(LegalHold.id.desc()).limit(1)
            ).one()
            hold_id = hold.id
        asker.get("/admin/holds")
        response = asker.post(f"/admin/holds/{hold_id}/approve")
        assert response.status_code == 403
        assert "cannot approve" in response.get_data(as_text=True)
        entry = last_entry(exchange, "admin.hold.approve")
        assert entry["outcome"] == "denied" and entry["actor"]["user"] == first.username

        approver = Browser(exchange)
        approver.sign_in(second)
        approver.get("/admin/holds")
        assert approver.post(f"/admin/holds/{hold_id}/approve").status_code == 302
        with exchange.app_context():
            approved = db.session.get(LegalHold, hold_id)
            assert approved is not None
            assert approved.approved_by == f"user:{second.username}"
        assert last_entry(exchange, "admin.hold.approve")["targets"] == [
            {"id": record["id"], "version": 1}
        ]
        approver.get("/admin/holds")
        assert (
            approver.post(f"/admin/holds/{hold_id}/lift", {"reason": "released"}).status_code == 302
        )

    def test_the_pages_are_for_administrators_only(
        self, exchange: Flask, world: World, police: AgencySystem
    ) -> None:
        browser = Browser(exchange)
        browser.sign_in(world.person(police.agency, "liaison"))
        assert browser.get("/admin/holds").status_code == 403
