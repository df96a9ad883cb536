"""The ``exchange`` command: administration (audited) and the agency client over mTLS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from exchange.cli import main
from exchange.extensions import db
from exchange.serving import ExchangeServer
from exchange.trail.models import AuditEntry
from keys.jwk import generate_signing_key, load_private_jwk, public_jwk, thumbprint
from keys.pop import make_proof
from tests.factories import World


def last_entry(app: Flask) -> dict[str, Any]:
    with app.app_context():
        row = db.session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).one()
        document: dict[str, Any] = json.loads(row.canonical)
        return document


class TestAdministration:
    def test_agency_system_bundle_key_policy(
        self, app: Flask, runner: FlaskCliRunner, tmp_path: Path
    ) -> None:
        result = runner.invoke(
            args=[
                "agency",
                "add",
                "chiba-lb",
                "--kind",
                "labour",
                "--name-ja",
                "千葉労働局",
                "--name-en",
                "Chiba Labour Bureau",
            ]
        )
        assert result.exit_code == 0, result.output
        assert last_entry(app)["action"] == "admin.agency.create"
        assert last_entry(app)["actor"]["kind"] == "operator"

        assert runner.invoke(args=["system", "add", "chiba-lb", "gateway"]).exit_code == 0
        bundle = tmp_path / "bundle"
        result = runner.invoke(
            args=["system", "issue", "chiba-lb", "gateway", "--out", str(bundle)]
        )
        assert result.exit_code == 0, result.output
        manifest = json.loads((bundle / "exchange.json").read_text())
        assert manifest["agency"] == "chiba-lb"
        assert (bundle / "client.key.pem").stat().st_mode & 0o077 == 0

        key = generate_signing_key("Ed25519")
        (tmp_path / "key.jwk").write_text(json.dumps(public_jwk(key)))
        (tmp_path / "key.proof").write_text(make_proof(key=key, agency="chiba-lb"))
        result = runner.invoke(
            args=[
                "key",
                "register",
                "chiba-lb",
                "--jwk",
                str(tmp_path / "key.jwk"),
                "--proof",
                str(tmp_path / "key.proof"),
            ]
        )
        assert result.exit_code == 0, result.output
        kid = thumbprint(public_jwk(key))
        assert kid in result.output
        # A thumbprint may start with "-": after "--" it is never read as an option.
        result = runner.invoke(
            args=["key", "revoke", "--compromised-at", "2026-01-01T00:00:00", "--", kid]
        )
        assert result.exit_code == 0, result.output
        assert last_entry(app)["action"] == "admin.key.revoke"

        result = runner.invoke(args=["policy", "show"])
        assert json.loads(result.output)["rules"]["school"]["read"] == [
            "immigration",
            "mext",
            "mofa",
            "police",
        ]

    def test_refused_command_is_audited_and_fails(self, app: Flask, runner: FlaskCliRunner) -> None:
        result = runner.invoke(
            args=["agency", "add", "Bad Id", "--kind", "police", "--name-ja", "x", "--name-en", "x"]
        )
        assert result.exit_code == 1
        assert "Invalid agency id" in result.output
        entry = last_entry(app)
        assert entry["action"] == "admin.agency.create"
        assert entry["outcome"] == "invalid"

    def test_proof_by_another_key_is_refused(
        self, app: Flask, runner: FlaskCliRunner, world: World, tmp_path: Path
    ) -> None:
        caller = world.agency("police")
        key, other = generate_signing_key("Ed25519"), generate_signing_key("Ed25519")
        (tmp_path / "key.jwk").write_text(json.dumps(public_jwk(key)))
        (tmp_path / "key.proof").write_text(make_proof(key=other, agency=caller.agency))
        result = runner.invoke(
            args=[
                "key",
                "register",
                caller.agency,
                "--jwk",
                str(tmp_path / "key.jwk"),
                "--proof",
                str(tmp_path / "key.proof"),
            ]
        )
        assert result.exit_code == 1
        assert last_entry(app)["details"]["error"] == "proof_invalid"


class TestClientCommands:
    def test_publish_get_search_over_mtls(
        self, world: World, server: ExchangeServer, tmp_path: Path
    ) -> None:
        publisher, reader = world.agency("immigration"), world.agency("police")
        envelope = publisher.envelope("broker")
        (tmp_path / "record.json").write_text(json.dumps(envelope, ensure_ascii=False))
        runner = CliRunner()
        base = ["client", "--url", world.served_at()]
        result = runner.invoke(
            main,
            [
                *base,
                "--bundle",
                str(publisher.bundle_dir),
                "publish",
                str(tmp_path / "record.json"),
            ],
        )
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["record_id"] == envelope["id"]

        result = runner.invoke(
            main,
            [
                *base,
                "--bundle",
                str(reader.bundle_dir),
                "get",
                envelope["id"],
                "--purpose",
                "investigation",
            ],
        )
        assert result.exit_code == 0, result.output
        shown = json.loads(result.output)
        assert shown["record"] == envelope and shown["verified"]["signature"] is True

        result = runner.invoke(
            main,
            [
                *base,
                "--bundle",
                str(reader.bundle_dir),
                "search",
                "--purpose",
                "investigation",
                "--publisher",
                publisher.agency,
            ],
        )
        assert result.exit_code == 0, result.output
        assert [json.loads(line)["record"]["id"] for line in result.output.splitlines()] == [
            envelope["id"]
        ]

    def test_refusal_prints_the_problem(self, world: World, server: ExchangeServer) -> None:
        reader = world.agency("labour")
        result = CliRunner().invoke(
            main,
            [
                "client",
                "--url",
                world.served_at(),
                "--bundle",
                str(reader.bundle_dir),
                "get",
                "00000000-0000-7000-8000-000000000000",
                "--purpose",
                "audit",
            ],
        )
        assert result.exit_code == 1
        assert "record_not_found" in result.output


class TestKeygen:
    def test_agency_made_key_is_registered_and_signs(
        self, app: Flask, runner: FlaskCliRunner, world: World, tmp_path: Path
    ) -> None:
        caller = world.agency("otit")
        result = CliRunner().invoke(
            main, ["client", "keygen", "--agency", caller.agency, "--out", str(tmp_path)]
        )
        assert result.exit_code == 0, result.output
        assert (tmp_path / "signing-key.jwk").stat().st_mode & 0o077 == 0
        assert '"d"' not in (tmp_path / "key.pub.jwk").read_text()
        result = runner.invoke(
            args=[
                "key",
                "register",
                caller.agency,
                "--jwk",
                str(tmp_path / "key.pub.jwk"),
                "--proof",
                str(tmp_path / "key.proof"),
            ]
        )
        assert result.exit_code == 0, result.output
        key = load_private_jwk(json.loads((tmp_path / "signing-key.jwk").read_text()))
        envelope = caller.envelope("broker")
        response = app.test_client().post(
            "/api/v1/records",
            json={"record": envelope, "signature": caller.sign(envelope, key=key)},
            environ_base=caller.environ(),
        )
        assert response.status_code == 201, response.get_data(as_text=True)

    def test_commands_that_talk_to_the_exchange_need_a_bundle(self) -> None:
        result = CliRunner().invoke(main, ["client", "identity"])
        assert result.exit_code == 2
        assert "--bundle" in result.output


class TestCardTokens:
    def test_client_turns_card_numbers_into_tokens(self, world: World) -> None:
        caller = world.agency("immigration")
        with caller.client() as exchange:
            token = exchange.card_token("AB12345678CD")
            assert token == exchange.card_token("ab 1234 5678 cd")
        assert token.startswith("rct1_") and "12345678" not in token


class TestOpenAPI:
    def test_document_is_generated_from_the_schemas(self, app: Flask, world: World) -> None:
        caller = world.agency("police")
        response = app.test_client().get("/api/v1/openapi.json", environ_base=caller.environ())
        assert response.status_code == 200
        document = response.get_json()
        assert document["openapi"].startswith("3.")
        components = document["components"]["schemas"]
        assert {"Envelope", "Submission", "BatchSubmission", "BrokerV1Payload"} <= set(components)
        assert "/api/v1/records" in document["paths"]
        assert "/api/v1/records/{record_id}" in document["paths"]
