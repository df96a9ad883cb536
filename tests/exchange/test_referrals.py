"""Referrals over real mTLS: the whole life of one, its refusals, its feed, and its signed
documents checked by an independent verifier (jwcrypto and rfc8785, no code of ours)."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
import requests
import rfc8785
from flask import Flask
from jwcrypto import jwk, jws

from exchange.auth.actor import Actor
from exchange.clock import rfc3339, utcnow
from exchange.extensions import db
from exchange.referrals.reading import list_referrals, today_in_japan
from exchange.stats.referrals import build_referral_report, count_referrals
from exchange.stats.service import Period
from exchange.trail.integrator_process import build_integrator
from keys.jcs import canonicalize
from keys.jwk import generate_signing_key, public_jwk, thumbprint
from keys.jws import sign_detached
from tests.exchange.helpers import audit_entry
from tests.exchange.test_publish import session_for
from tests.factories import AgencySystem, World

REFERRAL_TYPE = "exchange-referral+jws"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


class Agencies:
    def __init__(self, world: World) -> None:
        self.immigration = world.agency("immigration")
        self.labour = world.agency("labour")
        self.otit = world.agency("otit")
        self.police = world.agency("police")
        self.mofa = world.agency("mofa")
        self.broker = self.publish(self.immigration, "broker")
        self.case = self.publish(self.immigration, "illegal_employment")

    @staticmethod
    def publish(publisher: AgencySystem, record_type: str) -> str:
        envelope = publisher.envelope(record_type)
        with publisher.client() as exchange:
            exchange.publish(envelope)
        return str(envelope["id"])


@pytest.fixture(scope="module")
def agencies(world: World) -> Agencies:
    return Agencies(world)


def _now() -> str:
    return rfc3339(utcnow().replace(microsecond=0))


def sign(caller: AgencySystem, document: dict[str, Any], key: Any = None) -> str:
    signer = key or caller.key
    return sign_detached(
        canonicalize(document), key=signer, kid=thumbprint(public_jwk(signer)), typ=REFERRAL_TYPE
    )


def referral(
    sender: AgencySystem, receivers: list[AgencySystem], records: list[str], **extra: Any
) -> dict[str, Any]:
    document = {
        "schema": "referral/1",
        "id": str(uuid.uuid4()),
        "sender": sender.agency,
        "receivers": [r.agency for r in receivers],
        "records": [{"id": record_id} for record_id in records],
        "kind": "violation_notification",
        "requested_action": "賃金不払いの疑い。監督指導と是正の結果を報告願います。",
        "due": (utcnow() + timedelta(days=30)).date().isoformat(),
        "sent_by": {"kind": "system", "name": sender.system},
        "issued_at": _now(),
    }
    document.update(extra)
    return document


def step(receiver: AgencySystem, sent: dict[str, Any], kind: str, **extra: Any) -> dict[str, Any]:
    document = {
        "schema": "referral_step/1",
        "id": str(uuid.uuid4()),
        "referral": sent["id"],
        "referral_sha256": sent["sha256"],
        "agency": receiver.agency,
        "step": kind,
        "by": {"kind": "system", "name": receiver.system},
        "issued_at": _now(),
    }
    document.update(extra)
    return document


def call(
    caller: AgencySystem, method: str, path: str, body: Any = None, **params: Any
) -> requests.Response:
    with session_for(caller) as session:
        return session.request(
            method,
            f"{caller.world.served_at()}/api/v1/referrals{path}",
            json=body,
            params=params or None,
            timeout=30,
        )


def send(caller: AgencySystem, document: dict[str, Any], **body: Any) -> requests.Response:
    return call(
        caller, "POST", "", {"referral": document, "signature": sign(caller, document), **body}
    )


def take(
    caller: AgencySystem, sent: dict[str, Any], kind: str, path: str, **extra: Any
) -> requests.Response:
    document = step(caller, sent, kind, **extra)
    return call(
        caller,
        "POST",
        f"/{sent['id']}/{path}",
        {"step": document, "signature": sign(caller, document)},
    )


def refused(app: Flask, response: requests.Response, status: int, code: str, action: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == code
    entry = audit_entry(app, problem["request_id"])
    assert entry["action"] == action
    assert entry["status"] == status


def jwks(caller: AgencySystem, agency: str) -> jwk.JWKSet:
    with session_for(caller) as session:
        document = session.get(
            f"{caller.world.served_at()}/api/v1/agencies/{agency}/jwks", timeout=30
        ).json()
    keys = jwk.JWKSet()
    for key in document["keys"]:
        keys.add(jwk.JWK(**{k: key[k] for k in ("kty", "crv", "x", "y", "kid") if k in key}))
    return keys


def independently_verified(keys: jwk.JWKSet, document: dict[str, Any], token: str) -> None:
    """RFC 8785 bytes by the reference implementation, the JWS by jwcrypto."""
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["typ"] == REFERRAL_TYPE
    assert token.split(".")[1] == ""
    verifier = jws.JWS()
    verifier.deserialize(token)
    verifier.verify(keys.get_key(header["kid"]), detached_payload=rfc8785.dumps(document))


def integrate(app: Flask) -> None:
    with app.app_context():
        build_integrator(app).integrate(checkpoint=True)
        db.session.remove()


class TestLifeOfAReferral:
    def test_sent_acknowledged_assigned_closed(self, app: Flask, agencies: Agencies) -> None:
        a = agencies
        document = referral(
            a.immigration,
            [a.labour, a.otit],
            [a.case],
            attachments=[
                {
                    "name": "聴取記録.pdf",
                    "media_type": "application/pdf",
                    "size": len(PDF),
                    "sha256": hashlib.sha256(PDF).hexdigest(),
                }
            ],
        )
        attachment = {
            "sha256": hashlib.sha256(PDF).hexdigest(),
            "content": base64.b64encode(PDF).decode(),
        }
        response = send(a.immigration, document, attachments=[attachment])
        assert response.status_code == 201, response.text
        sent = response.json()
        assert sent["referral"] == document
        assert sent["sha256"] == hashlib.sha256(rfc8785.dumps(document)).hexdigest()
        assert [p["state"] for p in sent["receivers"]] == ["sent", "sent"]
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "referral.send"

        inbox = call(a.labour, "GET", "", box="inbox", state="open").json()["referrals"]
        (received,) = [r for r in inbox if r["id"] == document["id"]]
        assert received["overdue"] is False
        assert call(a.mofa, "GET", f"/{document['id']}").status_code == 404
        digest = hashlib.sha256(PDF).hexdigest()
        fetched = call(a.labour, "GET", f"/{document['id']}/attachments/{digest}")
        assert fetched.status_code == 200 and fetched.content == PDF
        assert fetched.headers["Content-Type"] == "application/pdf"
        assert call(a.mofa, "GET", f"/{document['id']}/attachments/{digest}").status_code == 404

        assert take(a.labour, sent, "acknowledged", "acknowledgement").status_code == 201
        assert (
            take(a.labour, sent, "assigned", "assignment", assignee="労働基準監督官 A").status_code
            == 201
        )
        closed = take(
            a.labour,
            sent,
            "closed",
            "closure",
            outcome="corrective_order",
            note="是正勧告書を交付した。",
        )
        assert closed.status_code == 201, closed.text
        assert take(a.otit, sent, "acknowledged", "acknowledgement").status_code == 201
        no_action = take(
            a.otit,
            sent,
            "closed",
            "closure",
            outcome="no_action",
            reason="既に労働基準監督署が対応済み。",
        )
        assert no_action.status_code == 201, no_action.text

        whole = call(a.immigration, "GET", f"/{document['id']}").json()
        assert whole["closed"] is True
        parts = {p["agency"]: p for p in whole["receivers"]}
        assert parts[a.labour.agency]["outcome"] == "corrective_order"
        assert parts[a.labour.agency]["assignee"] == "労働基準監督官 A"
        assert parts[a.otit.agency]["outcome"] == "no_action"
        assert [s["step"]["step"] for s in whole["steps"]] == [
            "acknowledged",
            "assigned",
            "closed",
            "acknowledged",
            "closed",
        ]
        closed = call(a.immigration, "GET", "", box="outbox", state="closed").json()
        assert document["id"] in [r["id"] for r in closed["referrals"]]

        # Every signed document verifies from the published keys alone.
        independently_verified(
            jwks(a.police, a.immigration.agency), whole["referral"], whole["signature"]
        )
        for signed in whole["steps"]:
            keys = jwks(a.police, signed["step"]["agency"])
            independently_verified(keys, signed["step"], signed["signature"])
            assert signed["step"]["referral_sha256"] == whole["sha256"]

        integrate(app)
        sender_feed = call(a.immigration, "GET", "/events", after=0).json()
        mine = [e for e in sender_feed["events"] if e["referral"] == document["id"]]
        assert [e["step"] for e in mine] == [
            "sent",
            "acknowledged",
            "assigned",
            "closed",
            "acknowledged",
            "closed",
        ]
        assert [e["agency"] for e in mine] == [
            a.immigration.agency,
            *[a.labour.agency] * 3,
            *[a.otit.agency] * 2,
        ]
        positions = [e["position"] for e in sender_feed["events"]]
        assert positions == sorted(positions) and sender_feed["next_cursor"] == positions[-1]
        otit_feed = call(a.otit, "GET", "/events", after=0).json()
        # Each receiver follows the whole referral, the other receivers' steps too.
        assert [
            (e["step"], e["step_id"] is None)
            for e in otit_feed["events"]
            if e["referral"] == document["id"]
        ] == [(e["step"], e["step_id"] is None) for e in mine]
        assert call(a.otit, "GET", "/events", after=otit_feed["next_cursor"]).json()["events"] == []

    def test_overdue_until_closed(self, app: Flask, agencies: Agencies) -> None:
        a = agencies
        document = referral(
            a.police,
            [a.mofa],
            [a.broker],
            kind="visa_screening_attention",
            due=today_in_japan(utcnow()).isoformat(),
        )
        assert send(a.police, document).status_code == 201
        later = utcnow() + timedelta(days=3)
        with app.app_context():
            receiver = Actor(kind="system", agency_id=a.mofa.agency, agency_kind="mofa")
            overdue = list_referrals(actor=receiver, box="inbox", tab="overdue", now=later)
            assert document["id"] in [v.referral.id for v in overdue]
            assert all(v.overdue for v in overdue)
            due_today = list_referrals(actor=receiver, box="inbox", tab="overdue", now=utcnow())
            assert document["id"] not in [v.referral.id for v in due_today]
            db.session.remove()


class TestRefusals:
    def test_receiver_the_policy_does_not_allow(self, app: Flask, agencies: Agencies) -> None:
        a = agencies
        document = referral(a.immigration, [a.mofa], [a.broker])
        refused(
            app,
            send(a.immigration, document),
            403,
            "referral_receiver_not_allowed",
            "referral.send",
        )

    def test_record_the_receiver_may_not_read(self, app: Flask, agencies: Agencies) -> None:
        a = agencies
        document = referral(a.immigration, [a.mofa], [a.case], kind="visa_screening_attention")
        refused(
            app, send(a.immigration, document), 403, "referral_record_not_readable", "referral.send"
        )

    def test_forged_signature(self, app: Flask, agencies: Agencies) -> None:
        a = agencies
        document = referral(a.immigration, [a.labour], [a.broker])
        forged = sign(a.immigration, document, key=generate_signing_key("Ed25519"))
        response = call(a.immigration, "POST", "", {"referral": document, "signature": forged})
        refused(app, response, 422, "referral_signature_invalid", "referral.send")
        tampered = dict(document, requested_action="別の依頼")
        response = call(
            a.immigration,
            "POST",
            "",
            {"referral": tampered, "signature": sign(a.immigration, document)},
        )
        refused(app, response, 422, "referral_signature_invalid", "referral.send")

    def test_replayed_referral_and_step(self, app: Flask, agencies: Agencies) -> None:
        a = agencies
        document = referral(a.immigration, [a.labour], [a.broker])
        body = {"referral": document, "signature": sign(a.immigration, document)}
        first = call(a.immigration, "POST", "", body)
        assert first.status_code == 201
        refused(
            app, call(a.immigration, "POST", "", body), 409, "referral_replayed", "referral.send"
        )
        ack = step(a.labour, first.json(), "acknowledged")
        step_body = {"step": ack, "signature": sign(a.labour, ack)}
        assert (
            call(a.labour, "POST", f"/{document['id']}/acknowledgement", step_body).status_code
            == 201
        )
        replay = call(a.labour, "POST", f"/{document['id']}/acknowledgement", step_body)
        refused(app, replay, 409, "referral_replayed", "referral.acknowledge")

    def test_closed_referral_changed(self, app: Flask, agencies: Agencies) -> None:
        a = agencies
        document = referral(a.immigration, [a.labour], [a.broker])
        sent = send(a.immigration, document).json()
        assert take(a.labour, sent, "acknowledged", "acknowledgement").status_code == 201
        assert (
            take(a.labour, sent, "closed", "closure", outcome="guidance_given").status_code == 201
        )
        again = take(a.labour, sent, "assigned", "assignment", assignee="誰か")
        refused(app, again, 409, "referral_closed", "referral.assign")

    def test_steps_only_by_a_receiver_in_order(self, app: Flask, agencies: Agencies) -> None:
        a = agencies
        document = referral(a.immigration, [a.labour], [a.broker])
        sent = send(a.immigration, document).json()
        refused(
            app,
            take(a.labour, sent, "closed", "closure", outcome="guidance_given"),
            409,
            "referral_step_out_of_order",
            "referral.close",
        )
        refused(
            app,
            take(a.immigration, sent, "acknowledged", "acknowledgement"),
            403,
            "referral_not_receiver",
            "referral.acknowledge",
        )
        refused(
            app,
            take(a.police, sent, "acknowledged", "acknowledgement"),
            404,
            "referral_not_found",
            "referral.acknowledge",
        )
        no_reason = take(a.labour, sent, "acknowledged", "acknowledgement")
        assert no_reason.status_code == 201
        refused(
            app,
            take(a.labour, sent, "closed", "closure", outcome="no_action"),
            422,
            "schema_invalid",
            "referral.close",
        )

    def test_attachment_must_match_what_was_signed(self, app: Flask, agencies: Agencies) -> None:
        a = agencies
        declared = {
            "name": "a.pdf",
            "media_type": "application/pdf",
            "size": len(PDF),
            "sha256": hashlib.sha256(PDF).hexdigest(),
        }
        document = referral(a.immigration, [a.labour], [a.broker], attachments=[declared])
        refused(
            app, send(a.immigration, document), 422, "referral_attachment_missing", "referral.send"
        )
        fake = b"MZ not a pdf at all"
        declared = {
            "name": "a.pdf",
            "media_type": "application/pdf",
            "size": len(fake),
            "sha256": hashlib.sha256(fake).hexdigest(),
        }
        document = referral(a.immigration, [a.labour], [a.broker], attachments=[declared])
        content = {"sha256": declared["sha256"], "content": base64.b64encode(fake).decode()}
        refused(
            app,
            send(a.immigration, document, attachments=[content]),
            422,
            "referral_attachment_type",
            "referral.send",
        )


class TestStatistics:
    def test_counted_by_kind_agency_kind_outcome_and_time_with_small_counts_hidden(
        self, app: Flask, agencies: Agencies
    ) -> None:
        a = agencies
        for _ in range(3):
            document = referral(a.otit, [a.labour], [a.broker])
            sent = send(a.otit, document).json()
            assert take(a.labour, sent, "acknowledged", "acknowledgement").status_code == 201
            closing = take(a.labour, sent, "closed", "closure", outcome="guidance_given")
            assert closing.status_code == 201
        month = today_in_japan(utcnow()).replace(day=1)
        with app.test_request_context():
            counts = count_referrals(period=Period(month, month))
            report = build_referral_report(counts)
            db.session.remove()
        assert counts.by["referral_sender_kind"]["otit"] >= 3
        assert counts.by["referral_outcome"]["guidance_given"] >= 3
        assert counts.by["referral_days_to_close"]["0-7"] >= 3
        assert counts.total == sum(counts.by["referral_kind"].values())
        shown = [row.shown for table in report.tables for row in table.rows]
        assert shown and all(s.count is None or s.count == 0 or s.count >= 3 for s in shown)
        assert {table.dimension for table in report.tables} == {
            "referral_kind",
            "referral_sender_kind",
            "referral_receiver_kind",
            "referral_outcome",
            "referral_days_to_close",
        }


class TestReferralPolicy:
    def test_rules_are_data_versioned_and_deny_by_default(
        self, app: Flask, agencies: Agencies, tmp_path: Any
    ) -> None:
        a = agencies
        runner = app.test_cli_runner()
        shown = runner.invoke(args=["policy", "referrals"])
        assert shown.exit_code == 0, shown.output
        current = json.loads(shown.output)
        assert current["rules"]["criminal_complaint_prepared"]["immigration"] == ["police"]
        narrowed = json.loads(json.dumps(current["rules"]))
        narrowed["information_provision"]["immigration"] = []
        path = tmp_path / "rules.json"
        path.write_text(json.dumps(narrowed))
        result = runner.invoke(args=["policy", "set-referrals", str(path), "--note", "test"])
        assert result.exit_code == 0, result.output
        try:
            document = referral(a.immigration, [a.labour], [a.broker], kind="information_provision")
            refused(
                app,
                send(a.immigration, document),
                403,
                "referral_receiver_not_allowed",
                "referral.send",
            )
        finally:
            path.write_text(json.dumps(current["rules"]))
            assert runner.invoke(args=["policy", "set-referrals", str(path)]).exit_code == 0
        unknown = tmp_path / "unknown.json"
        unknown.write_text(json.dumps({"gossip": {"police": ["mofa"]}}))
        assert runner.invoke(args=["policy", "set-referrals", str(unknown)]).exit_code != 0
