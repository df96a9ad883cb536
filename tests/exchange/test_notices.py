"""Notices to sending-country governments over real mutual TLS: the whole life, each refusal
with its code and audit entry, the package verified by an independent verifier (jwcrypto and
rfc8785 only), and the PDF opened with poppler."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import rfc8785
from flask import Flask
from jwcrypto import jwk as jose_jwk
from jwcrypto import jws as jose_jws

from exchange.clock import rfc3339, utcnow
from exchange.serving import ExchangeServer
from keys.jcs import canonicalize
from keys.jwk import PrivateSigningKey, generate_signing_key, public_jwk, thumbprint
from keys.jws import sign_detached
from tests.exchange.helpers import audit_entry
from tests.factories import AgencySystem, Person, World

NOTICE_TYP = "exchange-notice+jws"
STEP_TYP = "exchange-notice-step+jws"
REQUEST_JA = "貴国政府におかれては、下記の送出機関に対し厳正な対応をとられるよう申し入れます。"
REQUEST_EN = "The Government of Japan requests strict action against the organisations below."
BROKER_NAME = "ハノイ人材送出株式会社"


@pytest.fixture(autouse=True)
def _own_ca(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests lets REQUESTS_CA_BUNDLE replace the verify set per request.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


def broker(name: str, country: str) -> dict[str, Any]:
    return {
        "name": name,
        "name_original": name,
        "name_latin": "Hanoi Human Resources JSC",
        "aliases": ["HHR"],
        "category": "sending_organisation",
        "country": country,
        "programmes": ["technical_intern"],
        "allegations": ["excessive_fees", "passport_retention"],
        "sources": ["trainee_hearing"],
        "period": {"from": "2025-04-01", "to": "2026-03-31"},
        "measures": [
            {"kind": "visa_refusals", "date": "2026-05-01", "authority": "mofa", "reference": "V-7"}
        ],
        "narrative": "実習生の供述によれば、出国前に高額な手数料を徴収された。",
    }


@dataclass
class Sender:
    """An agency system that signs notice documents with its own key and posts them."""

    system: AgencySystem
    key: PrivateSigningKey | None = None
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        root = self.system.bundle_dir
        self.session.trust_env = False
        self.session.cert = (str(root / "client.pem"), str(root / "client.key.pem"))
        self.session.verify = str(root / "ca.pem")

    def sign(self, document: dict[str, Any], typ: str, key: PrivateSigningKey | None = None) -> str:
        signer = key or self.key or self.system.key
        return sign_detached(
            canonicalize(document), key=signer, kid=thumbprint(public_jwk(signer)), typ=typ
        )

    def url(self, path: str) -> str:
        return self.system.world.served_at() + path

    def post(self, path: str, body: Any, method: str = "POST") -> requests.Response:
        return self.session.request(method, self.url(path), json=body, timeout=30)

    def get(self, path: str) -> requests.Response:
        return self.session.get(self.url(path), timeout=30)

    def publish(self, payload: dict[str, Any]) -> dict[str, Any]:
        envelope = self.system.envelope("broker", payload=payload, links=[])
        response = self.post("/api/v1/records", self.system.submission(envelope))
        assert response.status_code == 201, response.text
        return envelope


def now() -> str:
    return rfc3339(utcnow())


def notice_doc(
    sender: Sender,
    person: Person,
    brokers: list[dict[str, Any]],
    *,
    notice_id: str | None = None,
    version: int = 1,
    country: str = "VN",
    fields: tuple[str, ...] = ("name", "name_latin", "category", "allegations", "period"),
) -> dict[str, Any]:
    return {
        "id": notice_id or str(uuid.uuid4()),
        "schema": "notice/1",
        "version": version,
        "agency": sender.system.agency,
        "country": country,
        "drafted_by": person.username,
        "brokers": [
            {
                "id": b["id"],
                "version": b["version"],
                "facts": {name: b["payload"][name] for name in fields if name in b["payload"]},
            }
            for b in brokers
        ],
        "request": {"ja": REQUEST_JA, "en": REQUEST_EN},
        "issued_at": now(),
    }


def step_doc(
    sender: Sender, person: Person, state: dict[str, Any], history: dict[str, Any], step: str
) -> dict[str, Any]:
    current = history["versions"][-1]
    return {
        "schema": "notice-step/1",
        "notice": state["id"],
        "notice_version": current["notice"]["version"],
        "notice_sha256": current["sha256"],
        "previous": state["sha256"],
        "step": step,
        "agency": sender.system.agency,
        "by": person.username,
        "at": now(),
    }


@dataclass
class Cast:
    otit: Sender
    mofa: Sender
    other: Sender
    drafter: Person
    approver: Person
    colleague: Person
    drafter_approver: Person
    mofa_officer: Person
    brokers: list[dict[str, Any]]
    foreign: dict[str, Any]


@pytest.fixture(scope="module")
def cast(world: World, server: ExchangeServer) -> Iterator[Cast]:
    otit = Sender(world.agency("otit"))
    mofa = Sender(world.agency("mofa"))
    other = Sender(world.agency("immigration"))
    brokers = [otit.publish(broker(BROKER_NAME, "VN")), otit.publish(broker("Cong ty Sao", "VN"))]
    yield Cast(
        otit=otit,
        mofa=mofa,
        other=other,
        drafter=world.person(otit.system.agency, "liaison"),
        approver=world.person(otit.system.agency, "approver"),
        colleague=world.person(otit.system.agency, "liaison"),
        drafter_approver=world.person(otit.system.agency, "liaison", "approver"),
        mofa_officer=world.person(mofa.system.agency, "liaison"),
        brokers=brokers,
        foreign=otit.publish(broker("Manila Placement Inc.", "PH")),
    )


def ok(response: requests.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def refused(
    app: Flask, response: requests.Response, status: int, code: str, action: str
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["code"] == code
    entry = audit_entry(app, problem["request_id"])
    assert entry["action"] == action
    assert entry["status"] == status
    assert entry["details"]["refused"] == code
    return problem


def drafted(cast: Cast, person: Person | None = None) -> dict[str, Any]:
    document = notice_doc(cast.otit, person or cast.drafter, cast.brokers)
    body = {"notice": document, "signature": cast.otit.sign(document, NOTICE_TYP)}
    return ok(cast.otit.post("/api/v1/notices", body), 201)


def take(
    sender: Sender, person: Person, state: dict[str, Any], step: str, **extra: Any
) -> requests.Response:
    history = ok(sender.get(f"/api/v1/notices/{state['id']}"))
    document = {**step_doc(sender, person, state, history, step), **extra}
    body = {"step": document, "signature": sender.sign(document, STEP_TYP)}
    return sender.post(f"/api/v1/notices/{state['id']}/{step}", body)


def approved(cast: Cast) -> dict[str, Any]:
    state = drafted(cast)
    state = ok(take(cast.otit, cast.drafter, state, "submission"))
    return ok(take(cast.otit, cast.approver, state, "approval"))


class TestLifeOfANotice:
    def test_draft_to_answer_with_the_whole_signed_history(self, app: Flask, cast: Cast) -> None:
        state = drafted(cast)
        assert state["state"] == "draft"

        # Edit while a draft: the next version, signed again.
        history = ok(cast.otit.get(f"/api/v1/notices/{state['id']}"))
        revised = dict(history["versions"][0]["notice"], version=2, issued_at=now())
        revised["request"] = {"ja": REQUEST_JA + "\n回答を求めます。", "en": REQUEST_EN}
        response = cast.otit.post(
            f"/api/v1/notices/{state['id']}",
            {"notice": revised, "signature": cast.otit.sign(revised, NOTICE_TYP)},
            method="PUT",
        )
        state = ok(response)
        assert state["version"] == 2
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "notice.edit"
        assert {(t["id"], t["version"]) for t in entry["targets"]} == {
            (b["id"], b["version"]) for b in cast.brokers
        }

        state = ok(take(cast.otit, cast.drafter, state, "submission"))
        assert state["state"] == "pending"
        state = ok(take(cast.otit, cast.approver, state, "approval"))
        assert state["state"] == "approved"
        # MOFA sees it once approved, countersigns and dispatches it.
        listed = ok(cast.mofa.get("/api/v1/notices?state=approved"))
        assert state["id"] in [n["id"] for n in listed["notices"]]
        state = ok(take(cast.mofa, cast.mofa_officer, state, "dispatch", reference="南東二第88号"))
        assert state["state"] == "dispatched"
        answer = {
            "received_on": "2026-12-01",
            "summary": "2機関の調査を開始したとの回答。",
            "action_reported": "investigation_opened",
        }
        response = take(cast.otit, cast.drafter, state, "answer", answer=answer)
        state = ok(response)
        assert state["state"] == "answered"
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "notice.answer"
        assert entry["details"]["notice"] == state["id"]

        history = ok(cast.otit.get(f"/api/v1/notices/{state['id']}"))
        assert [v["notice"]["version"] for v in history["versions"]] == [1, 2]
        assert [s["step"]["step"] for s in history["steps"]] == [
            "submission",
            "approval",
            "dispatch",
            "answer",
        ]
        assert [s["step"]["by"] for s in history["steps"]] == [
            cast.drafter.username,
            cast.approver.username,
            cast.mofa_officer.username,
            cast.drafter.username,
        ]
        # Another agency sees nothing of it.
        refused(
            app,
            cast.other.get(f"/api/v1/notices/{state['id']}"),
            404,
            "notice_not_found",
            "notice.read",
        )

    def test_rejection_returns_the_draft_for_revision(self, cast: Cast) -> None:
        state = drafted(cast)
        state = ok(take(cast.otit, cast.drafter, state, "submission"))
        state = ok(take(cast.otit, cast.approver, state, "rejection", reason="根拠を追記すること"))
        assert state["state"] == "rejected"
        history = ok(cast.otit.get(f"/api/v1/notices/{state['id']}"))
        revised = dict(history["versions"][0]["notice"], version=2, issued_at=now())
        state = ok(
            cast.otit.post(
                f"/api/v1/notices/{state['id']}",
                {"notice": revised, "signature": cast.otit.sign(revised, NOTICE_TYP)},
                method="PUT",
            )
        )
        assert state["state"] == "draft"


def verify_independently(package: dict[str, Any], jwks: dict[str, dict[str, Any]]) -> list[str]:
    """Verify every signature of a package with jwcrypto and rfc8785 only; the kids used."""
    used = []
    signed = [package["notice"], *package["steps"]]
    previous = None
    for item in signed:
        document = item["document"]
        payload = rfc8785.dumps(document)
        assert hashlib.sha256(payload).hexdigest() == item["sha256"]
        token = jose_jws.JWS()
        token.deserialize(item["signature"])
        header = token.jose_header
        agency = document["agency"]
        published = next(k for k in jwks[agency]["keys"] if k["kid"] == header["kid"])
        public = jose_jwk.JWK(
            **{name: published[name] for name in ("kty", "crv", "x", "y") if name in published}
        )
        assert public.thumbprint() == header["kid"]
        token.verify(public, detached_payload=payload)
        assert header["typ"] == item["typ"]
        if previous is not None:
            assert document["previous"] == previous
            assert document["notice_sha256"] == package["notice"]["sha256"]
        previous = item["sha256"]
        used.append(header["kid"])
    return used


@pytest.fixture(scope="module")
def dispatched(cast: Cast) -> dict[str, Any]:
    state = approved(cast)
    return ok(take(cast.mofa, cast.mofa_officer, state, "dispatch", reference="NV-2026-12"))


class TestPackage:
    def test_json_package_verifies_with_public_keys_alone(
        self, cast: Cast, dispatched: dict[str, Any]
    ) -> None:
        package = ok(cast.mofa.get(f"/api/v1/notices/{dispatched['id']}/package"))
        agencies = {item["document"]["agency"] for item in [package["notice"], *package["steps"]]}
        assert agencies == {cast.otit.system.agency, cast.mofa.system.agency}
        jwks = {a: ok(cast.other.get(f"/api/v1/agencies/{a}/jwks")) for a in agencies}
        used = verify_independently(package, jwks)
        assert used == [cast.otit.system.kid] * 3 + [cast.mofa.system.kid]
        facts = package["notice"]["document"]["brokers"][0]["facts"]
        assert "narrative" not in facts and facts["name"] == BROKER_NAME

        # A changed byte anywhere fails the independent verifier.
        forged = json.loads(json.dumps(package))
        forged["steps"][1]["document"]["by"] = cast.colleague.username
        forged["steps"][1]["sha256"] = hashlib.sha256(
            rfc8785.dumps(forged["steps"][1]["document"])
        ).hexdigest()
        with pytest.raises(jose_jws.InvalidJWSSignature):
            verify_independently(forged, jwks)

    def test_pdf_holds_the_japanese_text_and_the_fingerprints(
        self, cast: Cast, dispatched: dict[str, Any], tmp_path: Path
    ) -> None:
        if shutil.which("pdftotext") is None:
            pytest.fail("poppler-utils is required (apt-get install poppler-utils)")
        response = cast.otit.get(f"/api/v1/notices/{dispatched['id']}/package.pdf")
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"] == "application/pdf"
        pdf = tmp_path / "notice.pdf"
        pdf.write_bytes(response.content)
        text = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True
        ).stdout.decode()
        flat = "".join(text.split())
        assert "".join(REQUEST_JA.split()) in flat
        assert "".join(REQUEST_EN.split()) in flat
        assert BROKER_NAME in flat
        assert "ベトナム政府への申入れ" in flat
        assert cast.brokers[0]["id"] in flat
        assert cast.otit.system.kid in flat and cast.mofa.system.kid in flat
        fonts = subprocess.run(
            ["pdffonts", str(pdf)], capture_output=True, check=True, text=True
        ).stdout
        # The font is embedded (a subset), not left to whatever the reader has.
        assert " yes " in fonts.splitlines()[2]
        keep = Path(__file__).resolve().parents[2] / "artifacts" / "notice-package.pdf"
        keep.parent.mkdir(exist_ok=True)
        keep.write_bytes(response.content)
        subprocess.run(
            [
                "pdftoppm",
                "-png",
                "-r",
                "60",
                "-f",
                "1",
                "-l",
                "1",
                str(pdf),
                str(tmp_path / "page"),
            ],
            check=True,
        )
        page = next(tmp_path.glob("page*.png"))
        assert page.stat().st_size > 10_000

    def test_package_of_an_undispatched_notice_is_refused(self, app: Flask, cast: Cast) -> None:
        state = drafted(cast)
        refused(
            app,
            cast.otit.get(f"/api/v1/notices/{state['id']}/package"),
            409,
            "notice_not_dispatched",
            "notice.package",
        )


class TestRefusals:
    def test_approver_approving_own_draft(self, app: Flask, cast: Cast) -> None:
        state = drafted(cast, cast.drafter_approver)
        state = ok(take(cast.otit, cast.drafter_approver, state, "submission"))
        response = take(cast.otit, cast.drafter_approver, state, "approval")
        refused(app, response, 403, "notice_self_approval", "notice.approve")

    def test_submitter_cannot_approve_either(self, app: Flask, cast: Cast) -> None:
        state = drafted(cast)
        state = ok(take(cast.otit, cast.drafter_approver, state, "submission"))
        response = take(cast.otit, cast.drafter_approver, state, "approval")
        refused(app, response, 403, "notice_self_approval", "notice.approve")

    def test_non_approver_approving(self, app: Flask, cast: Cast) -> None:
        state = drafted(cast)
        state = ok(take(cast.otit, cast.drafter, state, "submission"))
        response = take(cast.otit, cast.colleague, state, "approval")
        refused(app, response, 403, "approver_role_required", "notice.approve")

    def test_non_mofa_dispatching(self, app: Flask, cast: Cast) -> None:
        state = approved(cast)
        response = take(cast.otit, cast.approver, state, "dispatch")
        refused(app, response, 403, "notice_dispatch_mofa_only", "notice.dispatch")

    def test_change_of_a_dispatched_notice(self, app: Flask, cast: Cast) -> None:
        state = ok(take(cast.mofa, cast.mofa_officer, approved(cast), "dispatch"))
        history = ok(cast.otit.get(f"/api/v1/notices/{state['id']}"))
        changed = dict(history["versions"][-1]["notice"], version=2, issued_at=now())
        changed["request"] = {"ja": "撤回します。", "en": "Withdrawn."}
        response = cast.otit.post(
            f"/api/v1/notices/{state['id']}",
            {"notice": changed, "signature": cast.otit.sign(changed, NOTICE_TYP)},
            method="PUT",
        )
        refused(app, response, 409, "notice_dispatched", "notice.edit")

    def test_forged_signature(self, app: Flask, cast: Cast) -> None:
        document = notice_doc(cast.otit, cast.drafter, cast.brokers)
        forger = generate_signing_key("Ed25519")
        body = {"notice": document, "signature": cast.otit.sign(document, NOTICE_TYP, forger)}
        refused(app, cast.otit.post("/api/v1/notices", body), 422, "key_unknown", "notice.draft")
        # The agency's own key over other bytes.
        signature = cast.otit.sign(document, NOTICE_TYP)
        tampered = dict(document, country="PH")
        body = {"notice": tampered, "signature": signature}
        response = cast.otit.post("/api/v1/notices", body)
        refused(app, response, 422, "signature_invalid", "notice.draft")

    def test_replayed_step(self, app: Flask, cast: Cast) -> None:
        state = drafted(cast)
        history = ok(cast.otit.get(f"/api/v1/notices/{state['id']}"))
        document = step_doc(cast.otit, cast.drafter, state, history, "submission")
        body = {"step": document, "signature": cast.otit.sign(document, STEP_TYP)}
        ok(cast.otit.post(f"/api/v1/notices/{state['id']}/submission", body))
        response = cast.otit.post(f"/api/v1/notices/{state['id']}/submission", body)
        refused(app, response, 409, "notice_step_replayed", "notice.submit")

    def test_step_signed_for_an_earlier_moment(self, app: Flask, cast: Cast) -> None:
        state = drafted(cast)
        state = ok(take(cast.otit, cast.drafter, state, "submission"))
        history = ok(cast.otit.get(f"/api/v1/notices/{state['id']}"))
        # Signed against the chain before the submission: not the notice's latest step.
        stale = dict(step_doc(cast.otit, cast.approver, state, history, "approval"))
        stale["previous"] = history["versions"][-1]["sha256"]
        body = {"step": stale, "signature": cast.otit.sign(stale, STEP_TYP)}
        response = cast.otit.post(f"/api/v1/notices/{state['id']}/approval", body)
        refused(app, response, 409, "notice_step_stale", "notice.approve")

    def test_field_outside_the_whitelist(self, app: Flask, cast: Cast) -> None:
        document = notice_doc(
            cast.otit, cast.drafter, cast.brokers, fields=("name", "narrative", "sources")
        )
        body = {"notice": document, "signature": cast.otit.sign(document, NOTICE_TYP)}
        problem = refused(
            app,
            cast.otit.post("/api/v1/notices", body),
            422,
            "notice_field_not_allowed",
            "notice.draft",
        )
        assert {e["pointer"] for e in problem["errors"]} == {
            f"/notice/brokers/{i}/facts/{name}" for i in (0, 1) for name in ("narrative", "sources")
        }

    def test_broker_of_another_country(self, app: Flask, cast: Cast) -> None:
        document = notice_doc(cast.otit, cast.drafter, [*cast.brokers, cast.foreign])
        body = {"notice": document, "signature": cast.otit.sign(document, NOTICE_TYP)}
        problem = refused(
            app,
            cast.otit.post("/api/v1/notices", body),
            422,
            "notice_broker_country",
            "notice.draft",
        )
        assert problem["errors"][0]["pointer"] == "/notice/brokers/2/id"

    def test_a_quoted_fact_must_be_what_the_record_says(self, app: Flask, cast: Cast) -> None:
        document = notice_doc(cast.otit, cast.drafter, cast.brokers)
        document["brokers"][0]["facts"]["allegations"] = ["human_trafficking"]
        body = {"notice": document, "signature": cast.otit.sign(document, NOTICE_TYP)}
        refused(
            app,
            cast.otit.post("/api/v1/notices", body),
            422,
            "notice_fact_mismatch",
            "notice.draft",
        )
