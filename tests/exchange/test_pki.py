"""Certificates from CSRs, the CRL, key rotation and revocation, keys encrypted at rest."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask
from flask.testing import FlaskCliRunner

from exchange.client.sdk import ExchangeClient, ExchangeError
from exchange.clock import utcnow
from exchange.pki.vault import load_vault
from exchange.serving import ExchangeServer
from keys.jwk import generate_signing_key, public_jwk, thumbprint
from keys.pop import make_proof
from tests.exchange.helpers import audit_entry
from tests.factories import World, iso


class TestCertificates:
    def test_certificate_from_a_csr_takes_only_its_public_key(
        self, app: Flask, runner: FlaskCliRunner, world: World, tmp_path: Path
    ) -> None:
        caller = world.agency("mext")
        assert runner.invoke(args=["system", "add", caller.agency, "records-db"]).exit_code == 0
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(
                x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "admin-of-everything")])
            )
            .sign(key, hashes.SHA256())
        )
        (tmp_path / "req.csr").write_bytes(csr.public_bytes(serialization.Encoding.PEM))
        result = runner.invoke(
            args=[
                "system",
                "issue",
                caller.agency,
                "records-db",
                "--csr",
                str(tmp_path / "req.csr"),
                "--out",
                str(tmp_path / "cert.pem"),
            ]
        )
        assert result.exit_code == 0, result.output
        certificate = x509.load_pem_x509_certificate((tmp_path / "cert.pem").read_bytes())
        assert (
            certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "records-db"
        )
        assert (
            certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
            == caller.agency
        )
        assert certificate.public_key().public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]

    def test_crl_lists_revoked_certificates(
        self, app: Flask, runner: FlaskCliRunner, world: World
    ) -> None:
        caller = world.agency("mofa")
        result = runner.invoke(
            args=["cert", "revoke", caller.fingerprint, "--reason", "key_compromise"]
        )
        assert result.exit_code == 0, result.output
        response = app.test_client().get("/pki/crl.pem")
        crl = x509.load_pem_x509_crl(response.data)
        assert crl.is_signature_valid(load_vault(app).ca.certificate.public_key())  # type: ignore[arg-type]
        assert (
            crl.get_revoked_certificate_by_serial_number(caller.bundle.certificate.serial)
            is not None
        )
        assert audit_entry(app, response.headers["Exchange-Request-Id"])["action"] == "pki.crl.read"

    def test_private_keys_are_encrypted_at_rest(self, app: Flask) -> None:
        directory = load_vault(app).directory
        for name in ("ca.key.pem", "server.key.pem", "exchange.key.pem"):
            text = (directory / name).read_text()
            assert "ENCRYPTED PRIVATE KEY" in text, name
            assert (directory / name).stat().st_mode & 0o077 == 0
        assert b"matching_key" not in (directory / "secrets.bin").read_bytes()


class TestKeyRotation:
    def test_rotate_retire_and_revoke_over_the_api(
        self, app: Flask, world: World, server: ExchangeServer
    ) -> None:
        publisher, reader = world.agency("police"), world.agency("immigration")
        old_record = publisher.envelope("broker", issued_at=iso(utcnow() - timedelta(minutes=5)))
        with publisher.client() as exchange:
            exchange.publish(old_record)
            new_key = generate_signing_key("ES256")
            registered = exchange.register_key(new_key, agency=publisher.agency)
            assert registered["kid"] == thumbprint(public_jwk(new_key))
            retired = exchange.request("POST", f"/api/v1/keys/{publisher.kid}/retire")
            assert retired["status"] == "retired"
            # The retired key no longer signs new versions...
            late = publisher.envelope("broker", issued_at=iso(utcnow() + timedelta(seconds=2)))
            with pytest.raises(ExchangeError) as refused:
                exchange.publish(late)
            assert refused.value.code == "key_retired"
            # ...the new key does.
            exchange.signing_key, exchange.kid = new_key, registered["kid"]
            assert exchange.publish(late).created
        with reader.client() as exchange:
            # What the old key signed before its retirement still verifies.
            assert exchange.get(old_record["id"], purpose="investigation").record == old_record
            assert exchange.get(late["id"], purpose="investigation").kid == registered["kid"]

    def test_only_own_keys_can_be_revoked_and_proofs_are_checked(
        self, world: World, server: ExchangeServer
    ) -> None:
        police, other = world.agency("police"), world.agency("police")
        with other.client() as exchange:
            with pytest.raises(ExchangeError) as refused:
                exchange.request(
                    "POST",
                    f"/api/v1/keys/{police.kid}/revoke",
                    json={"compromised_at": iso(utcnow())},
                )
            assert refused.value.code == "key_not_found"
            key = generate_signing_key("Ed25519")
            with pytest.raises(ExchangeError) as bad_proof:
                exchange.request(
                    "POST",
                    "/api/v1/keys",
                    json={
                        "jwk": public_jwk(key),
                        "proof": make_proof(key=key, agency=police.agency),
                    },
                )
            assert bad_proof.value.code == "proof_invalid"
            with pytest.raises(ExchangeError) as bad_body:
                exchange.request(
                    "POST", f"/api/v1/keys/{other.kid}/revoke", json={"compromised_at": "yesterday"}
                )
            assert bad_body.value.code == "schema_invalid"
            assert bad_body.value.problem["errors"][0]["pointer"] == "/compromised_at"
            revoked = exchange.request(
                "POST",
                f"/api/v1/keys/{other.kid}/revoke",
                json={"compromised_at": iso(utcnow() - timedelta(days=1))},
            )
            assert revoked["status"] == "revoked"
            jwks = exchange.request("GET", f"/api/v1/agencies/{other.agency}/jwks")
        assert [k["status"] for k in jwks["keys"]] == ["revoked"]
        assert json.dumps(jwks).count('"d"') == 0


class TestDemo:
    def test_demo_loads_all_kinds_with_working_bundles(
        self, app: Flask, runner: FlaskCliRunner, server: ExchangeServer
    ) -> None:
        result = runner.invoke(args=["demo", "--records", "24"])
        assert result.exit_code == 0, result.output
        bundles = Path(app.config["EXCHANGE_BUNDLES_DIR"])
        with ExchangeClient.from_bundle(
            bundles / "isa-gateway", base_url=f"https://127.0.0.1:{server.api.port}"
        ) as exchange:
            kinds = {a["kind"] for a in exchange.request("GET", "/api/v1/agencies")["agencies"]}
            # The demo's own records: other tests leave deliberately unverifiable ones.
            found = list(exchange.search(purpose="statistics", type="broker", publisher="isa"))
        assert kinds == {"police", "immigration", "labour", "otit", "mext", "mofa"}
        assert found and all(not item.key_compromised for item in found)
        with ExchangeClient.from_bundle(
            bundles / "isa-gateway", base_url=f"https://127.0.0.1:{server.api.port}"
        ) as exchange:
            otit = exchange.request("GET", "/api/v1/agencies/otit/jwks")["keys"]
            outbox = exchange.request(
                "GET", "/api/v1/referrals", params={"box": "outbox", "state": "closed"}
            )["referrals"]
            inbox = exchange.request(
                "GET", "/api/v1/referrals", params={"box": "inbox", "state": "open"}
            )["referrals"]
        # Referrals of the hand-offs of measures 197, 204 and 210: closed, open and overdue.
        assert "referrals: 6" in result.output
        assert {r["kind"] for r in outbox} == {
            "violation_notification",
            "criminal_complaint_prepared",
        }
        assert any(r["overdue"] for r in inbox) and not all(r["overdue"] for r in inbox)
        # OTIT's liaison officer can try the web import, with the key the exchange holds.
        assert [k.get("custodial", False) for k in otit].count(True) == 1
        assert "liaison.otit" in result.output
        # A notice abroad dispatched by MOFA and answered, and one awaiting approval.
        assert "notices abroad: 2" in result.output
        with ExchangeClient.from_bundle(
            bundles / "otit-gateway", base_url=f"https://127.0.0.1:{server.api.port}"
        ) as exchange:
            notices = exchange.request("GET", "/api/v1/notices")["notices"]
        assert {n["state"] for n in notices} == {"answered"}

        # The auditor system's bundle is printed with the others and reads the whole log.
        assert str(bundles / "isa-audit") in result.output
        api = f"https://127.0.0.1:{server.api.port}"
        with ExchangeClient.from_bundle(bundles / "isa-audit", base_url=api) as auditor:
            identity = auditor.request("GET", "/api/v1/identity")
            read = auditor.request("GET", "/api/v1/audit/entries", params={"start": 0, "end": 2})
        assert identity["agency"]["id"] == "isa" and identity["roles"] == ["auditor"]
        assert [entry["index"] for entry in read["entries"]] == [0, 1]
        with ExchangeClient.from_bundle(bundles / "isa-gateway", base_url=api) as gateway:
            with pytest.raises(ExchangeError) as refused:
                gateway.request("GET", "/api/v1/audit/entries", params={"start": 0, "end": 2})
        assert refused.value.status == 403
