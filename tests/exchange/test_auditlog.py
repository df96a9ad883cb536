"""The verifiable log over real mTLS: checkpoints, proofs, entries, cosignatures, look-up.

What the exchange serves is checked with ``tests/audit/independent.py``, a verifier
written from RFC 9162 and the C2SP texts that shares no code with ``audit/``.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import Flask

from audit.cosignature import cosignature_verifier_key
from audit.merkle import leaf_hash
from exchange.client.auditlog import Witness, prove_publication
from exchange.client.sdk import ExchangeClient, ExchangeError, VerificationError
from exchange.extensions import db
from exchange.pki.vault import load_vault
from exchange.serving import ExchangeServer
from exchange.trail.integrator_process import build_integrator
from schemas import residence_card_token
from tests.audit import independent
from tests.exchange.helpers import audit_entry
from tests.factories import AgencySystem, World


def integrate(app: Flask) -> int:
    with app.app_context():
        result = build_integrator(app).integrate(checkpoint=True)
        db.session.remove()
    return result.size


def refused(exchange: ExchangeClient, method: str, path: str, **kwargs: Any) -> ExchangeError:
    with pytest.raises(ExchangeError) as error:
        exchange.request(method, path, **kwargs)
    return error.value


def ed25519(system: AgencySystem) -> Ed25519PrivateKey:
    assert isinstance(system.key, Ed25519PrivateKey)
    return system.key


def b64(items: list[str]) -> list[bytes]:
    return [base64.b64decode(item) for item in items]


@pytest.fixture(scope="module")
def police(world: World, server: ExchangeServer) -> AgencySystem:
    return world.agency("police")


@pytest.fixture(scope="module")
def auditor(world: World, server: ExchangeServer) -> AgencySystem:
    return world.agency("otit", roles=("auditor",))


@pytest.fixture(scope="module")
def log_key(police: AgencySystem) -> str:
    with police.client() as exchange:
        return str(exchange.request("GET", "/api/v1/audit/key")).strip()


class TestCheckpoint:
    def test_served_note_verifies_independently(
        self, app: Flask, police: AgencySystem, log_key: str
    ) -> None:
        with police.client() as exchange:
            exchange.publish(police.envelope())
            size = integrate(app)
            note = str(exchange.request("GET", "/api/v1/audit/checkpoint")).encode()
        origin, checkpoint_size, _ = independent.verify_checkpoint_note(note, log_key)
        assert origin == "exchange.example.go.jp/audit" and checkpoint_size == size

    def test_before_any_checkpoint_the_answer_is_a_problem(self, tmp_path: Path) -> None:
        from tests.isolated import isolated_app

        with isolated_app(tmp_path) as fresh:
            response = fresh.test_client().get(
                "/api/v1/audit/checkpoint", environ_base=_environ_of(fresh, tmp_path)
            )
        assert response.status_code == 404
        assert response.json is not None and response.json["code"] == "checkpoint_missing"

    def test_unknown_size_is_refused(self, police: AgencySystem) -> None:
        with police.client() as exchange:
            error = refused(exchange, "GET", "/api/v1/audit/checkpoint", params={"size": 10**12})
        assert (error.status, error.code) == (404, "checkpoint_not_found")


def _environ_of(app: Flask, root: Path) -> dict[str, str]:
    return World(app, root / "bundles").agency("police").environ()


class TestProofs:
    def test_inclusion_by_index_verifies_independently(
        self, app: Flask, police: AgencySystem, log_key: str
    ) -> None:
        size = integrate(app)
        with police.client() as exchange:
            note = str(exchange.request("GET", "/api/v1/audit/checkpoint")).encode()
            _, _, root = independent.verify_checkpoint_note(note, log_key)
            for index in sorted({0, size // 2, size - 1}):
                proof = exchange.request(
                    "GET", "/api/v1/audit/proof/inclusion", params={"index": index, "size": size}
                )
                assert independent.verify_inclusion(
                    base64.b64decode(proof["leaf_hash"]), index, size, b64(proof["proof"]), root
                )

    def test_consistency_verifies_independently(
        self, app: Flask, police: AgencySystem, log_key: str
    ) -> None:
        with police.client() as exchange:
            old = integrate(app)
            old_note = str(exchange.request("GET", "/api/v1/audit/checkpoint")).encode()
            exchange.publish(police.envelope())
            new = integrate(app)
            new_note = str(exchange.request("GET", "/api/v1/audit/checkpoint")).encode()
            proof = exchange.request(
                "GET", "/api/v1/audit/proof/consistency", params={"old": old, "new": new}
            )
        _, _, old_root = independent.verify_checkpoint_note(old_note, log_key)
        _, _, new_root = independent.verify_checkpoint_note(new_note, log_key)
        assert new > old
        assert independent.verify_consistency(old, new, old_root, new_root, b64(proof["proof"]))

    def test_a_receipt_leads_to_a_proof_of_its_publication(
        self, app: Flask, police: AgencySystem, log_key: str
    ) -> None:
        with police.client() as exchange:
            receipt = exchange.publish(police.envelope())
            integrate(app)
            proof = prove_publication(exchange, receipt, log_key=log_key)
        entry = audit_entry(app, receipt.audit_entry)
        assert proof.entry == entry and entry["action"] == "record.publish"
        assert {"id": receipt.record_id, "version": 1} in entry["targets"]

    def test_batch_receipts_share_their_one_entry(
        self, app: Flask, police: AgencySystem, log_key: str
    ) -> None:
        with police.client() as exchange:
            receipts = exchange.publish_batch([police.envelope(), police.envelope()])
            integrate(app)
            assert len({r.audit_entry for r in receipts}) == 1
            proofs = [prove_publication(exchange, r, log_key=log_key) for r in receipts]
        assert len({p.index for p in proofs}) == 1

    def test_a_refused_publication_proves_nothing(
        self, app: Flask, police: AgencySystem, log_key: str
    ) -> None:
        with police.client() as exchange:
            receipt = exchange.publish(police.envelope())
            # A later request's entry, which names the same version but refused it.
            other = police.envelope(id=receipt.record_id)
            error = refused(exchange, "POST", "/api/v1/records", json=police.submission(other))
            assert error.code == "version_conflict"
            forged = replace(receipt, audit_entry=error.problem["request_id"])
            integrate(app)
            with pytest.raises(VerificationError, match="does not record this publication"):
                prove_publication(exchange, forged, log_key=log_key)

    def test_an_entry_is_proven_only_to_its_own_agency_or_an_auditor(
        self, app: Flask, world: World, police: AgencySystem, auditor: AgencySystem
    ) -> None:
        with police.client() as exchange:
            receipt = exchange.publish(police.envelope())
        integrate(app)
        params = {"entry": receipt.audit_entry}
        with world.agency("mofa").client() as stranger:
            error = refused(stranger, "GET", "/api/v1/audit/proof/inclusion", params=params)
        assert (error.status, error.code) == (404, "entry_not_found")
        with auditor.client() as exchange:
            proof = exchange.request("GET", "/api/v1/audit/proof/inclusion", params=params)
        assert json.loads(base64.b64decode(proof["entry"]))["id"] == receipt.audit_entry

    def test_an_entry_not_yet_integrated_is_reported_as_such(
        self, app: Flask, police: AgencySystem
    ) -> None:
        integrate(app)
        with police.client() as exchange:
            receipt = exchange.publish(police.envelope())
            error = refused(
                exchange,
                "GET",
                "/api/v1/audit/proof/inclusion",
                params={"entry": receipt.audit_entry},
            )
        assert (error.status, error.code) == (404, "entry_not_integrated")

    @pytest.mark.parametrize(
        ("path", "params", "status", "code"),
        [
            ("/proof/inclusion", {"index": 0, "size": 10**15}, 400, "size_beyond_checkpoint"),
            ("/proof/inclusion", {"index": 10**15}, 400, "index_invalid"),
            ("/proof/inclusion", {}, 400, "parameters_invalid"),
            ("/proof/inclusion", {"index": "x"}, 422, "parameters_invalid"),
            ("/proof/inclusion", {"index": -1}, 422, "parameters_invalid"),
            ("/proof/inclusion", {"entry": "not-a-uuid"}, 422, "parameters_invalid"),
            ("/proof/consistency", {"old": 5, "new": 2}, 400, "size_invalid"),
            ("/proof/consistency", {}, 422, "parameters_invalid"),
            ("/proof/consistency", {"old": 1, "new": 10**15}, 400, "size_beyond_checkpoint"),
        ],
    )
    def test_bad_parameters_are_problems(
        self,
        app: Flask,
        police: AgencySystem,
        path: str,
        params: dict[str, Any],
        status: int,
        code: str,
    ) -> None:
        integrate(app)
        with police.client() as exchange:
            error = refused(exchange, "GET", "/api/v1/audit" + path, params=params)
        assert (error.status, error.code) == (status, code)
        assert audit_entry(app, error.problem["request_id"])["outcome"] == "invalid"


class TestEntries:
    def test_auditor_reads_entries_whose_hashes_are_the_leaves(
        self, app: Flask, police: AgencySystem, auditor: AgencySystem
    ) -> None:
        size = integrate(app)
        with auditor.client() as exchange:
            page = exchange.request("GET", "/api/v1/audit/entries", params={"start": 0})
            for item in page["entries"][:20]:
                proof = exchange.request(
                    "GET",
                    "/api/v1/audit/proof/inclusion",
                    params={"index": item["index"], "size": size},
                )
                assert leaf_hash(base64.b64decode(item["entry"])) == base64.b64decode(
                    proof["leaf_hash"]
                )
        assert page["start"] == 0 and page["entries"][0]["index"] == 0

    def test_other_systems_may_not_read_entries(self, app: Flask, police: AgencySystem) -> None:
        with police.client() as exchange:
            error = refused(exchange, "GET", "/api/v1/audit/entries", params={"start": 0})
        assert (error.status, error.code) == (403, "role_required")
        assert audit_entry(app, error.problem["request_id"])["outcome"] == "denied"


class TestLookup:
    def test_auditor_finds_who_searched_for_a_term(
        self, app: Flask, police: AgencySystem, auditor: AgencySystem
    ) -> None:
        term = "ブローカー商会"
        with police.client() as exchange:
            exchange.search_page(purpose="investigation", q=term)
        integrate(app)
        with auditor.client() as exchange:
            found = exchange.request("POST", "/api/v1/audit/lookup", json={"term": term})
        assert found["hash"].startswith("hmac-sha256:")
        assert [e["agency"] for e in found["entries"]] == [police.agency]
        assert found["entries"][0]["purpose"] == "investigation"

    def test_the_term_is_kept_only_as_its_hash(self, app: Flask, auditor: AgencySystem) -> None:
        with auditor.client() as exchange:
            response = exchange.session.post(
                exchange.base_url + "/api/v1/audit/lookup",
                json={"term": "山田太郎"},
                verify=exchange.ca,
            )
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert "山田太郎" not in json.dumps(entry, ensure_ascii=False)
        assert entry["details"]["term"] == response.json()["hash"]

    def test_a_card_search_is_kept_as_a_hash_and_found_by_the_card_number(
        self, app: Flask, world: World, auditor: AgencySystem
    ) -> None:
        police = world.agency("police")
        with app.app_context():
            token = residence_card_token("AB 1234 5678 CD", key=load_vault().matching_key)
        envelope = police.envelope("school")
        payload = envelope["payload"]
        payload.pop("visa_screening", None)
        payload["finding"] = "arrested_student"
        payload["arrest"] = {
            "nationality": "VN",
            "arrest_date": "2026-10-01",
            "offence_category": "illegal_work",
            "arresting_agency": police.agency,
            "case_reference": "13-2026-00042",
            "residence_card_token": token,
        }
        with police.client() as exchange:
            exchange.publish(envelope)
            assert exchange.card_token("ab12345678cd") == token
            response = exchange.session.get(
                exchange.base_url + "/api/v1/records",
                params={"card": token},
                headers={"Exchange-Purpose": "investigation"},
                verify=exchange.ca,
            )
        assert [item["record"]["id"] for item in response.json()["items"]] == [envelope["id"]]
        request_id = response.headers["Exchange-Request-Id"]
        entry = audit_entry(app, request_id)
        assert token not in json.dumps(entry)
        assert entry["details"]["filters"]["card"].startswith("hmac-sha256:")
        integrate(app)
        with auditor.client() as exchange:
            found = exchange.request(
                "POST", "/api/v1/audit/lookup", json={"card_number": "AB12345678CD"}
            )
        assert [e["id"] for e in found["entries"]] == [request_id]

    def test_other_systems_may_not_look_up(self, police: AgencySystem) -> None:
        with police.client() as exchange:
            error = refused(exchange, "POST", "/api/v1/audit/lookup", json={"term": "x"})
        assert (error.status, error.code) == (403, "role_required")

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"term": ""},
            {"term": 5},
            [],
            {"term": "x", "y": 1},
            {"term": "x", "card_number": "AB12345678CD"},
            {"card_number": "not a card"},
        ],
    )
    def test_bad_bodies_are_problems(self, auditor: AgencySystem, body: Any) -> None:
        with auditor.client() as exchange:
            error = refused(exchange, "POST", "/api/v1/audit/lookup", json=body)
        assert (error.status, error.code) == (422, "schema_invalid")


class TestCosignatures:
    def test_a_witness_cosigns_and_the_checkpoint_carries_it(
        self, app: Flask, world: World, tmp_path: Path, log_key: str
    ) -> None:
        mofa = world.agency("mofa")
        with mofa.client() as exchange:
            exchange.publish(mofa.envelope())
            integrate(app)
            witness = Witness(
                exchange, state_path=tmp_path / "w.json", name=mofa.agency, key=ed25519(mofa)
            )
            first = witness.run_once()
            exchange.publish(mofa.envelope())
            integrate(app)
            second = witness.run_once()
            note = str(exchange.request("GET", "/api/v1/audit/checkpoint")).encode()
            listed = exchange.request(
                "GET", "/api/v1/audit/cosignatures", params={"size": second.size}
            )
        assert second.previous == first.size and second.size > first.size
        assert independent.verify_checkpoint_note(note, log_key)[1] == second.size
        line = [x for x in note.decode().splitlines() if x.startswith(f"— {mofa.agency} ")]
        assert len(line) == 1 and listed["cosignatures"][0]["cosignature"] == line[0]
        state = json.loads((tmp_path / "w.json").read_text())
        assert state["log_key"] == log_key

    def test_an_export_carries_the_witness_cosignature_of_a_live_log(
        self, app: Flask, world: World, tmp_path: Path, log_key: str
    ) -> None:
        # The witness's own cosigning request is an entry: the newest checkpoint is past
        # the one it cosigned, and the export takes the cosigned one.
        mofa = world.agency("mofa")
        with mofa.client() as exchange:
            exchange.publish(mofa.envelope())
            integrate(app)
            witness = Witness(
                exchange, state_path=tmp_path / "w.json", name=mofa.agency, key=ed25519(mofa)
            )
            cosigned = witness.run_once().size
        newest = integrate(app)
        assert newest > cosigned
        public = ed25519(mofa).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        witness_key = cosignature_verifier_key(name=mofa.agency, public_key=public)

        def offline(path: Path, *quorum: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "audit", "verify", str(path), "--key", log_key, *quorum],
                capture_output=True,
                text=True,
                check=False,
            )

        runner = app.test_cli_runner()
        default = tmp_path / "default.jsonl"
        result = runner.invoke(args=["audit", "export", str(default)])
        assert result.exit_code == 0, result.output
        assert f"checkpoint size {cosigned}, cosigned by {mofa.agency}" in result.output
        checked = offline(default, "--witness", witness_key, "--quorum", "1")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert f"tree size:   {cosigned}" in checked.stdout

        chosen = tmp_path / "chosen.jsonl"
        result = runner.invoke(args=["audit", "export", str(chosen), "--size", str(newest)])
        assert result.exit_code == 0, result.output
        assert f"checkpoint size {newest}, cosigned by no witness" in result.output
        assert offline(chosen).returncode == 0
        assert offline(chosen, "--witness", witness_key, "--quorum", "1").returncode == 1

        filtered = tmp_path / "filtered.jsonl"
        result = runner.invoke(args=["audit", "export", str(filtered), "--agency", mofa.agency])
        assert result.exit_code == 0, result.output
        checked = offline(filtered, "--witness", witness_key, "--quorum", "1")
        assert checked.returncode == 0, checked.stdout + checked.stderr

        result = runner.invoke(
            args=["audit", "export", str(tmp_path / "none.jsonl"), "--size", str(newest + 10**6)]
        )
        assert result.exit_code == 1
        assert "No checkpoint of that size" in result.output

    def test_a_cosignature_by_another_key_is_refused(
        self, app: Flask, world: World, tmp_path: Path
    ) -> None:
        mofa = world.agency("mofa")
        integrate(app)
        with mofa.client() as exchange:
            witness = Witness(
                exchange,
                state_path=tmp_path / "w.json",
                name=mofa.agency,
                key=Ed25519PrivateKey.generate(),
            )
            with pytest.raises(ExchangeError) as error:
                witness.run_once()
        assert (error.value.status, error.value.code) == (422, "witness_key_unknown")

    def test_a_cosignature_under_another_name_is_refused(
        self, app: Flask, world: World, tmp_path: Path
    ) -> None:
        mofa = world.agency("mofa")
        integrate(app)
        with mofa.client() as exchange:
            witness = Witness(
                exchange, state_path=tmp_path / "w.json", name="isa", key=ed25519(mofa)
            )
            with pytest.raises(ExchangeError) as error:
                witness.run_once()
        assert (error.value.status, error.value.code) == (422, "cosignature_invalid")

    def test_a_forged_signature_is_refused(self, app: Flask, world: World) -> None:
        from cryptography.hazmat.primitives.serialization import (
            Encoding,
            NoEncryption,
            PrivateFormat,
        )

        from audit.cosignature import CosignatureSigner

        mofa = world.agency("mofa")
        size = integrate(app)
        raw = ed25519(mofa).private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        signer = CosignatureSigner.from_private_bytes(name=mofa.agency, private_key=raw)
        signature = signer.sign(b"another log\n1\n" + b"A" * 43 + b"=\n", timestamp=1)
        body = {"size": size, "cosignature": signature.line().decode()}
        with mofa.client() as exchange:
            error = refused(exchange, "POST", "/api/v1/audit/cosignatures", json=body)
        assert (error.status, error.code) == (422, "cosignature_invalid")

    @pytest.mark.parametrize(
        "body",
        [
            {"size": 1, "cosignature": "not a line"},
            {"size": 1, "cosignature": "— name !!!notbase64"},
            {"size": 1},
            {"cosignature": "— x AAAA"},
            {"size": -1, "cosignature": "— x AAAAAAAA"},
            {"size": 1, "cosignature": "— x " + "A" * 2000},
        ],
    )
    def test_malformed_submissions_are_problems(
        self, app: Flask, police: AgencySystem, body: dict[str, Any]
    ) -> None:
        with police.client() as exchange:
            error = refused(exchange, "POST", "/api/v1/audit/cosignatures", json=body)
        assert error.status == 422
        assert error.code in ("schema_invalid", "cosignature_invalid")
        assert audit_entry(app, error.problem["request_id"])["action"] == "audit.cosignature.add"


class TestUnsafeIntegers:
    @pytest.mark.parametrize(
        "path",
        [
            "/api/v1/audit/entries?start=9007199254740992",
            "/api/v1/audit/proof/inclusion?index=9007199254740992",
            "/api/v1/audit/proof/consistency?old=9007199254740992",
        ],
    )
    def test_positions_beyond_json_integers_are_refused(
        self, app: Flask, auditor: AgencySystem, path: str
    ) -> None:
        response = app.test_client().get(path, environ_base=auditor.environ())
        assert response.status_code == 422 and response.json is not None
        assert response.json["code"] == "parameters_invalid"
        assert audit_entry(app, response.json["request_id"])["status"] == 422
