"""The auditors' pages: trails, denied attempts, unusual patterns, the log's state, exports."""

from __future__ import annotations

import base64
import csv
import io
import json
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from audit.checkpoint import Checkpoint
from audit.merkle import leaf_hash, verify_inclusion
from audit.note import open_note
from audit.verify import verify_export
from exchange.auth.actor import Actor
from exchange.clock import utcnow, uuid7
from exchange.extensions import db
from exchange.trail import verify_now
from exchange.trail.entries import append_entry
from exchange.trail.full_verification import Report
from exchange.trail.integrator_process import build_integrator
from exchange.trail.leaf_checks import Finding
from exchange.trail.log_status import log_verifier
from exchange.trail.models import AuditEntry, AuditLeaf
from exchange.trail.verify_now import background
from exchange.ui.filters import JST
from tests.exchange.helpers import audit_entry
from tests.factories import AgencySystem, World
from tests.web.pages import Browser

PAGES = (
    "/audit",
    "/audit/entries/0",
    "/audit/patterns",
    "/audit/log",
    "/audit/export.csv",
    "/audit/export.jsonl",
)


def integrate(app: Flask) -> int:
    with app.app_context():
        result = build_integrator(app).integrate(checkpoint=True)
        db.session.remove()
    return result.size


def leaf_of(app: Flask, request_id: str) -> int:
    with app.app_context():
        index = db.session.scalar(
            select(AuditLeaf.leaf_index)
            .join(AuditEntry, AuditEntry.seq == AuditLeaf.entry_seq)
            .where(AuditEntry.id == request_id)
        )
        db.session.remove()
    assert index is not None, "the entry is not integrated"
    return int(index)


def publish(app: Flask, publisher: AgencySystem, record_type: str = "broker") -> str:
    envelope = publisher.envelope(record_type)
    response = app.test_client().post(
        "/api/v1/records", json=publisher.submission(envelope), environ_base=publisher.environ()
    )
    assert response.status_code == 201, response.get_json()
    return str(envelope["id"])


def read(app: Flask, reader: AgencySystem, record_id: str, purpose: str = "investigation") -> Any:
    return app.test_client().get(
        f"/api/v1/records/{record_id}",
        headers={"Exchange-Purpose": purpose},
        environ_base=reader.environ(),
    )


def table(page: str) -> str:
    """The trail's rows, without the filter form's lists of agencies."""
    return page[page.index("<table") : page.index("</table>")] if "<table" in page else ""


def jst_param(moment: Any) -> str:
    return str(moment.astimezone(JST).strftime("%Y-%m-%dT%H:%M"))


@pytest.fixture()
def scene(app: Flask, world: World) -> dict[str, Any]:
    """A police broker record read by immigration, and a school record labour may not read."""
    police = world.agency("police")
    immigration = world.agency("immigration")
    labour = world.agency("labour")
    broker = publish(app, police, "broker")
    school = publish(app, police, "school")
    allowed = read(app, immigration, broker)
    assert allowed.status_code == 200
    denied = read(app, labour, school)
    assert denied.status_code == 403
    integrate(app)
    return {
        "police": police,
        "immigration": immigration,
        "labour": labour,
        "broker": broker,
        "school": school,
        "read_id": allowed.headers["Exchange-Request-Id"],
        "denied_id": denied.headers["Exchange-Request-Id"],
    }


class TestTrail:
    def test_a_records_trail_shows_the_read_with_its_purpose(
        self, audit_browser: Browser, scene: dict[str, Any]
    ) -> None:
        response = audit_browser.get(f"/audit?record={scene['broker']}")
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert f"Trail of record {scene['broker']}" in page
        rows = table(page)
        assert "Record read" in rows and "Investigation" in rows
        assert scene["immigration"].agency in rows and "gateway" in rows
        assert "Record published" in rows
        # The record's trail holds nothing of other records.
        assert scene["labour"].agency not in rows

    def test_the_entry_page_shows_the_json_and_a_verified_inclusion_proof(
        self, app: Flask, audit_browser: Browser, scene: dict[str, Any]
    ) -> None:
        index = leaf_of(app, scene["read_id"])
        page = audit_browser.get(f"/audit/entries/{index}").get_data(as_text=True)
        assert "Included in checkpoint of size" in page
        assert "Verified" in page
        assert scene["read_id"] in page and "&#34;purpose&#34;: &#34;investigation&#34;" in page
        assert f"/audit?record={scene['broker']}" in page
        assert f"/audit?agency={scene['immigration'].agency}" in page
        entry = audit_entry(app, audit_browser.last.headers["Exchange-Request-Id"])  # type: ignore[union-attr]
        assert entry["action"] == "audit.entry.view" and entry["details"] == {"index": index}

    def test_an_unknown_entry_is_a_404(self, audit_browser: Browser) -> None:
        assert audit_browser.get("/audit/entries/999999999999").status_code == 404
        assert audit_browser.get(f"/audit/entries/{2**62}").status_code == 404

    def test_trail_by_system_agency_and_time_range(
        self, audit_browser: Browser, scene: dict[str, Any]
    ) -> None:
        immigration = scene["immigration"].agency
        by_system = audit_browser.get(f"/audit?agency={immigration}&system=gateway")
        assert scene["broker"][:8] in by_system.get_data(as_text=True)
        by_agency = audit_browser.get(f"/audit?agency={immigration}").get_data(as_text=True)
        assert "Record read" in by_agency and f"Trail of agency {immigration}" in by_agency
        now = utcnow()
        recent = audit_browser.get(
            f"/audit?agency={immigration}&since={jst_param(now - timedelta(hours=1))}"
            f"&until={jst_param(now + timedelta(hours=1))}"
        )
        assert "Record read" in recent.get_data(as_text=True)
        old = audit_browser.get(f"/audit?agency={immigration}&since=2020-01-01&until=2020-01-31")
        assert "No access matches these filters." in old.get_data(as_text=True)

    def test_trail_by_user(self, app: Flask, world: World, audit_browser: Browser) -> None:
        liaison = world.person(world.agency("police").agency, "liaison")
        other = Browser(app)
        other.sign_in(liaison)
        other.get("/")
        integrate(app)
        page = audit_browser.get(f"/audit?user={liaison.username}").get_data(as_text=True)
        assert f"Trail of user {liaison.username}" in page
        assert "ui.home" in page

    def test_filters_are_validated(self, audit_browser: Browser) -> None:
        response = audit_browser.get("/audit?since=yesterday&agency=nowhere")
        assert response.status_code == 422
        assert 'aria-invalid="true"' in response.get_data(as_text=True)
        backwards = audit_browser.get("/audit?since=2026-02-01&until=2026-01-01")
        assert backwards.status_code == 422

    def test_pages_go_back_in_time_by_keyset(
        self, app: Flask, audit_browser: Browser, scene: dict[str, Any], monkeypatch: Any
    ) -> None:
        monkeypatch.setitem(app.config, "EXCHANGE_AUDIT_TRAIL_PAGE", 1)
        first = audit_browser.get(f"/audit?record={scene['broker']}").get_data(as_text=True)
        assert "Record read" in first and 'rel="next"' in first
        older = audit_browser.get(
            f"/audit?record={scene['broker']}&before={leaf_of(app, scene['read_id'])}"
        )
        assert "Record published" in older.get_data(as_text=True)


class TestDeniedAttempts:
    def test_the_attempts_filter_shows_the_policy_denial(
        self, app: Flask, audit_browser: Browser, scene: dict[str, Any]
    ) -> None:
        labour = scene["labour"].agency
        page = audit_browser.get(f"/audit?agency={labour}&outcome=attempts").get_data(as_text=True)
        assert "Denied" in page and "HTTP 403" in page
        assert f"#{leaf_of(app, scene['denied_id'])}" in page
        assert 'class="attempt"' in page
        assert "denied or invalid attempts on this page" in page
        # The immigration read was allowed: it is not an attempt.
        immigration = scene["immigration"].agency
        allowed = audit_browser.get(f"/audit?agency={immigration}&outcome=attempts")
        assert "No access matches these filters." in allowed.get_data(as_text=True)


class TestPatterns:
    def test_a_bulk_reader_and_repeated_denials_are_flagged(
        self, app: Flask, world: World, audit_browser: Browser, monkeypatch: Any
    ) -> None:
        monkeypatch.setitem(app.config, "EXCHANGE_AUDIT_BULK_READS", 3)
        monkeypatch.setitem(app.config, "EXCHANGE_AUDIT_REPEATED_DENIALS", 3)
        police, reader, refused = world.agency("police"), world.agency("mext"), world.agency("otit")
        broker, school = publish(app, police, "broker"), publish(app, police, "school")
        for _ in range(4):
            assert read(app, reader, broker, "statistics").status_code == 200
        for _ in range(3):
            assert read(app, refused, school).status_code == 403
        quiet = world.agency("mofa")
        assert read(app, quiet, broker).status_code == 200
        integrate(app)
        response = audit_browser.get("/audit/patterns")
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        bulk = page[page.index('id="bulk"') : page.index('id="off-hours"')]
        assert f"agency={reader.agency}" in bulk and "more than 3 record versions" in page
        assert quiet.agency not in bulk
        denials = page[page.index('id="denials"') :]
        assert refused.agency in denials and "outcome=attempts" in denials
        assert "3 or more refused requests" in page

    def test_reads_by_people_out_of_hours_are_flagged(
        self, app: Flask, world: World, audit_browser: Browser
    ) -> None:
        agency = world.agency("police").agency
        night, day = f"night{uuid7()[-6:]}", f"day{uuid7()[-6:]}"
        # A Wednesday in 2025: 23:30 JST is off hours, 10:00 JST is not.
        wednesday = datetime(2025, 3, 5, tzinfo=JST)
        with app.app_context():
            for user, moment in (
                (night, wednesday.replace(hour=23, minute=30)),
                (day, wednesday.replace(hour=10)),
            ):
                append_entry(
                    entry_id=uuid7(),
                    recorded_at=moment,
                    actor=Actor(kind="user", agency_id=agency, user=user),
                    action="record.read",
                    status=200,
                    targets=[(str(uuid7()), 1)],
                    purpose="investigation",
                )
                db.session.commit()
            db.session.remove()
        integrate(app)
        page = audit_browser.get("/audit/patterns?since=2025-03-05&until=2025-03-06").get_data(
            as_text=True
        )
        off_hours = page[page.index('id="off-hours"') : page.index('id="denials"')]
        assert night in off_hours and day not in off_hours
        assert "2025-03-05 23:00 JST" in off_hours
        assert f"user={night}" in off_hours
        assert "since=2025-03-05T23:00&amp;until=2025-03-06T00:00" in off_hours

    def test_the_window_is_validated(self, audit_browser: Browser) -> None:
        assert (
            audit_browser.get("/audit/patterns?since=2020-01-01&until=2021-01-01").status_code
            == 422
        )
        assert (
            audit_browser.get("/audit/patterns?since=2020-01-01&until=2020-01-08").status_code
            == 200
        )


class TestLogState:
    def test_the_page_shows_the_signed_checkpoint_and_the_verifier_key(
        self, app: Flask, audit_browser: Browser, scene: dict[str, Any]
    ) -> None:
        page = audit_browser.get("/audit/log").get_data(as_text=True)
        with app.app_context():
            key = log_verifier(app).verifier_key()
        assert key in page and "Verified" in page and "Verify now" in page

    def test_verify_now_reports_ok_and_is_audited(
        self, app: Flask, audit_browser: Browser, scene: dict[str, Any]
    ) -> None:
        audit_browser.get("/audit/log")
        response = audit_browser.post("/audit/log/verify")
        assert response.status_code == 303
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "audit.verify"
        assert entry["details"]["ok"] is True and entry["details"]["mode"] == "inline"
        assert entry["details"]["leaves"] > 0
        # The page the browser is sent to shows the result, and lists the verification
        # among the recent ones though the integrator has not given it a leaf yet.
        page = audit_browser.get(response.headers["Location"]).get_data(as_text=True)
        assert "The log verified" in page
        past = page[page.index('id="past"') :]
        assert "has not been verified" not in past
        assert f"{entry['details']['leaves']} entries in" in past
        assert "its leaf follows in a moment" in past
        integrate(app)
        past = audit_browser.get("/audit/log").get_data(as_text=True)
        past = past[past.index('id="past"') :]
        index = leaf_of(app, entry["id"])
        assert f">#{index}<" in past and "its leaf follows" not in past
        assert past.count(f"{entry['details']['leaves']} entries in") == 1

    def test_the_first_finding_is_shown_and_audited(
        self, app: Flask, audit_browser: Browser, monkeypatch: Any
    ) -> None:
        tampered = Report(leaves=0, findings=[Finding("modified", 2, 7, "bytes changed")])
        monkeypatch.setattr(verify_now, "verify_log", lambda *args, **kwargs: tampered)
        audit_browser.get("/audit/log")
        response = audit_browser.post("/audit/log/verify")
        page = audit_browser.get(response.headers["Location"]).get_data(as_text=True)
        assert "An entry was modified" in page and "leaf 2" in page
        assert 'href="/audit/entries/2"' in page
        details = audit_entry(app, response.headers["Exchange-Request-Id"])["details"]
        assert details["ok"] is False
        assert details["finding"] == {
            "kind": "modified",
            "index": 2,
            "seq": 7,
            "detail": "bytes changed",
        }

    def test_a_large_log_is_verified_in_the_background(
        self, app: Flask, audit_browser: Browser, scene: dict[str, Any], monkeypatch: Any
    ) -> None:
        monkeypatch.setitem(app.config, "EXCHANGE_AUDIT_VERIFY_INLINE_MAX", 0)
        audit_browser.get("/audit/log")
        response = audit_browser.post("/audit/log/verify")
        assert response.status_code == 302
        deadline = time.monotonic() + 60
        while background.started_at is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert background.started_at is None
        integrate(app)
        page = audit_browser.get("/audit/log").get_data(as_text=True)
        past = page[page.index('id="past"') :]
        assert "Verified" in past and "Started in the background" in past


class TestExports:
    def test_csv_is_excel_safe(self, app: Flask, world: World, audit_browser: Browser) -> None:
        crafted = world.agency("police")
        with app.app_context():
            # An entry whose system name would be a formula in a spreadsheet.
            append_entry(
                entry_id=uuid7(),
                recorded_at=utcnow(),
                actor=Actor(kind="system", agency_id=crafted.agency, system_name='=HYPERLINK("x")'),
                action="record.search",
                status=200,
                purpose="audit",
                details={"note": "@SUM(A1)"},
            )
            db.session.commit()
            db.session.remove()
        integrate(app)
        response = audit_browser.get(f"/audit/export.csv?agency={crafted.agency}")
        assert response.status_code == 200
        assert response.mimetype == "text/csv"
        body = response.get_data()
        assert body.startswith("\ufeff".encode())
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        assert rows[0][0] == "Leaf index" and len(rows[0]) == 13
        crafted_rows = [row for row in rows[1:] if row[2] == "record.search"]
        assert crafted_rows and crafted_rows[0][7] == '\'=HYPERLINK("x")'
        assert crafted_rows[0][1].endswith("Z") and crafted_rows[0][5] == "system"
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "audit.export"
        assert entry["details"]["filters"] == {"agency": crafted.agency}
        assert entry["details"]["format"] == "csv"

    def test_jsonl_proofs_verify_against_the_checkpoint(
        self, app: Flask, audit_browser: Browser, scene: dict[str, Any]
    ) -> None:
        immigration = scene["immigration"].agency
        response = audit_browser.get(f"/audit/export.jsonl?agency={immigration}")
        assert response.status_code == 200
        lines = response.get_data(as_text=True).splitlines()
        header = json.loads(lines[0])
        with app.app_context():
            verifier = log_verifier(app)
        checkpoint = Checkpoint.parse(
            open_note(header["checkpoint"].encode(), verifiers=[verifier]).text
        )
        assert checkpoint.size == header["size"] and header["complete"] is False
        entries = [json.loads(line) for line in lines[1:]]
        assert entries
        for item in entries:
            canonical = base64.b64decode(item["entry"])
            assert json.loads(canonical)["actor"]["agency"] == immigration
            verify_inclusion(
                leaf_hash=leaf_hash(canonical),
                index=item["index"],
                size=checkpoint.size,
                proof=[base64.b64decode(node) for node in item["proof"]],
                root=checkpoint.root,
            )
        # The offline verifier agrees.
        report = verify_export(lines, log_key=verifier.verifier_key())
        assert report.entries_verified == len(entries)
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "audit.export" and entry["details"]["format"] == "jsonl"

    def test_exports_are_bounded(
        self, app: Flask, audit_browser: Browser, scene: dict[str, Any], monkeypatch: Any
    ) -> None:
        monkeypatch.setitem(app.config, "EXCHANGE_AUDIT_EXPORT_MAX", 1)
        response = audit_browser.get(f"/audit/export.csv?record={scene['broker']}")
        assert response.status_code == 422
        assert "Too many entries to export" in response.get_data(as_text=True)


class TestOnlyAuditors:
    @pytest.mark.parametrize("role", ["liaison", "admin"])
    def test_other_roles_are_refused_everywhere(self, app: Flask, world: World, role: str) -> None:
        person = world.person(world.agency("police").agency, role)
        browser = Browser(app)
        browser.sign_in(person)
        for path in PAGES:
            assert browser.get(path).status_code == 403, path
        browser.get("/")
        assert browser.post("/audit/log/verify").status_code == 403
        menu = browser.get("/").get_data(as_text=True)
        assert 'href="/audit/patterns"' not in menu

    def test_the_auditor_sees_the_menu(self, audit_browser: Browser) -> None:
        home = audit_browser.get("/").get_data(as_text=True)
        for path in ('href="/audit"', 'href="/audit/patterns"', 'href="/audit/log"'):
            assert path in home
