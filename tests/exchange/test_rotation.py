"""Rotation carried through against a real server, with real clients from their bundles.

The rotations are run by a second app on the same instance, as ``exchange rotate`` runs in
a process of its own: the server takes them up from the keys folder, without a restart.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from cryptography import x509
from flask import Flask
from sqlalchemy import select

from exchange import create_app
from exchange.client.sdk import ExchangeClient, ExchangeError
from exchange.extensions import db
from exchange.feeds.running import build_worker
from exchange.ops.listener import start_ops_listener
from exchange.pki.vault import load_vault
from exchange.serving import ExchangeServer
from exchange.trail.models import AuditEntry
from keys.jws import read_header
from tests.exchange.push_receiver import start_receiver
from tests.exchange.test_ops import scrape, value
from tests.exchange.test_push import FAST_RETRIES, drain, publish, subscribe_push
from tests.factories import AgencySystem, World
from tests.isolated import isolated_app
from tests.web.test_admin_pages import signed_in_admin

PUBLIC_URL = "https://exchange.example.go.jp:9443"


@dataclass
class Rotating:
    app: Flask
    operator: Flask
    server: ExchangeServer
    world: World

    def rotate(self, *args: str) -> Result:
        result = self.operator.test_cli_runner().invoke(args=["rotate", *args])
        with self.operator.app_context():
            db.session.remove()
        return result

    @property
    def keys(self) -> Path:
        return Path(self.app.config["EXCHANGE_KEYS_DIR"])

    def client(self, system: AgencySystem) -> ExchangeClient:
        client = ExchangeClient.from_bundle(system.bundle_dir, base_url=self.world.served_at())
        client.session.trust_env = False
        return client


@pytest.fixture()
def rotating(tmp_path: Path) -> Iterator[Rotating]:
    # An exchange of each test's own: every test starts from keys nobody rotated yet.
    root = tmp_path / "rotation"
    with isolated_app(root, EXCHANGE_PUBLIC_URL=PUBLIC_URL) as app:
        # `exchange rotate` in a process of its own: the same instance, its own app.
        operator = create_app(
            {
                "TESTING": True,
                "EXCHANGE_INSTANCE_PATH": str(root),
                "EXCHANGE_DATABASE_URL": app.config["EXCHANGE_DATABASE_URL"],
                "EXCHANGE_KEY_PASSPHRASE": "test passphrase",
                "EXCHANGE_PUBLIC_URL": PUBLIC_URL,
            }
        )
        server = ExchangeServer(app=app, host="127.0.0.1", api_port=0, ui_port=0, threads=4)
        server.start()
        world = World(app, root / "bundles", api_url=f"https://127.0.0.1:{server.api.port}")
        try:
            yield Rotating(app, operator, server, world)
        finally:
            server.stop()
            with operator.app_context():
                db.engine.dispose()


def eventually(check: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"not within {seconds}s: {what}"
        time.sleep(0.1)


def served_certificate(port: int) -> x509.Certificate:
    """The certificate a new handshake on the web listener presents."""
    return x509.load_pem_x509_certificate(ssl.get_server_certificate(("127.0.0.1", port)).encode())


def first_certificate(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def subjects(path: Path) -> list[str]:
    return [c.subject.rfc4514_string() for c in x509.load_pem_x509_certificates(path.read_bytes())]


def jwks(client: ExchangeClient) -> dict[str, dict[str, Any]]:
    return {k["kid"]: k for k in client.request("GET", "/.well-known/jwks.json")["keys"]}


def receipt_kid(token: str) -> str:
    return read_header(token).kid


def entries(app: Flask, action: str) -> list[dict[str, Any]]:
    """The entries of ``action``, newest first."""
    with app.app_context():
        rows = db.session.scalars(select(AuditEntry.canonical).order_by(AuditEntry.seq.desc()))
        found = [json.loads(canonical) for canonical in rows]
        db.session.remove()
    return [entry for entry in found if entry["action"] == action]


def renew_certificate(rotating: Rotating, system: AgencySystem) -> Path:
    """The runbook's step in the transition: a new bundle, whose certificate the agency installs."""
    renewed = system.bundle_dir.parent / f"{system.agency}-renewed"
    issued = rotating.operator.test_cli_runner().invoke(
        args=["system", "issue", system.agency, "gateway", "--out", str(renewed)]
    )
    assert issued.exit_code == 0, issued.output
    for name in ("client.pem", "client.key.pem"):
        (system.bundle_dir / name).write_bytes((renewed / name).read_bytes())
    return renewed


class TestRotation:
    def test_a_client_keeps_working_across_every_rotation(self, rotating: Rotating) -> None:
        app, world, keys = rotating.app, rotating.world, rotating.keys
        # `exchange init` named the server certificate after the public URL already.
        initial = first_certificate(keys / "server.pem")
        san = initial.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert "exchange.example.go.jp" in san.get_values_for_type(x509.DNSName)
        publisher = world.agency("immigration")
        client = rotating.client(publisher)

        # Before: one receipt key, active.
        first = client.publish(publisher.envelope())
        old_kid = receipt_kid(first.token)
        assert {k: v["status"] for k, v in jwks(client).items()} == {old_kid: "active"}

        # The new key is published first and does not sign yet.
        assert rotating.rotate("receipt-key", "--overlap-days", "7").exit_code == 0
        eventually(lambda: len(jwks(client)) == 2, "the new key published")
        published = jwks(client)
        new_kid = next(kid for kid in published if kid != old_kid)
        assert published[new_kid]["status"] == "next"
        assert published[old_kid]["status"] == "active"
        assert published[old_kid]["retired_at"] == published[new_kid]["not_before"]
        during = client.publish(publisher.envelope())
        assert receipt_kid(during.token) == old_kid
        refused = rotating.rotate("receipt-key")
        assert refused.exit_code == 1 and "already waiting" in refused.output

        # After the overlap the new key signs; this client still holds the set it fetched
        # first, and fetches it again once, for the key it has not seen.
        assert rotating.rotate("receipt-key", "--end-overlap").exit_code == 0
        eventually(lambda: jwks(client)[old_kid]["status"] == "retired", "the old key retired")
        reads = len(entries(app, "pki.jwks.read"))
        after = client.publish(publisher.envelope())
        assert receipt_kid(after.token) == new_kid
        assert len(entries(app, "pki.jwks.read")) == reads + 1
        assert jwks(client)[new_kid]["status"] == "active"
        for receipt in (first, during, after):
            read = client.get(receipt.record_id, purpose="investigation")
            assert read.receipt.token == receipt.token

        # The server certificate: the next handshake presents the new one.
        before = served_certificate(rotating.server.ui.port)
        assert rotating.rotate("server-certificate").exit_code == 0
        rotated = first_certificate(keys / "server.pem")
        assert rotated != before
        eventually(
            lambda: served_certificate(rotating.server.ui.port) == rotated, "new certificate"
        )
        names = rotated.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert "exchange.example.go.jp" in names.get_values_for_type(x509.DNSName)
        client.session.close()
        client.publish(publisher.envelope())

        # The CA: both trusted; new client certificates from the new one; the server's
        # from the old one still, which every client's copy verifies.
        old_ca = subjects(keys / "ca.pem")[0]
        bystander = world.agency("mofa")
        bystander_client = rotating.client(bystander)
        assert rotating.rotate("ca", "--begin").exit_code == 0
        new_ca = subjects(keys / "ca-next.pem")[0]
        eventually(lambda: load_vault(app).next_ca is not None, "the transition seen")
        client.publish(publisher.envelope())
        assert subjects(publisher.bundle_dir / "ca.pem") == [old_ca, new_ca]
        bystander_client.publish(bystander.envelope())
        assert subjects(bystander.bundle_dir / "ca.pem") == [old_ca, new_ca]
        newcomer = world.agency("labour")
        assert subjects(newcomer.bundle_dir / "ca.pem") == [old_ca, new_ca]
        assert (
            first_certificate(newcomer.bundle_dir / "client.pem").issuer.rfc4514_string() == new_ca
        )
        rotating.client(newcomer).publish(newcomer.envelope())
        assert served_certificate(rotating.server.ui.port).issuer.rfc4514_string() == old_ca

        # Finishing would cut off the systems without a certificate of the new CA: named.
        renewed = renew_certificate(rotating, publisher)
        assert json.loads((renewed / "exchange.json").read_text())["api_url"] == PUBLIC_URL
        assert subjects(renewed / "ca.pem") == [old_ca, new_ca]
        assert first_certificate(renewed / "client.pem").issuer.rfc4514_string() == new_ca
        # The log's key is not rotated: the new bundle pins the one the old bundle pins.
        pinned = json.loads((publisher.bundle_dir / "exchange.json").read_text())["log_key"]
        assert json.loads((renewed / "exchange.json").read_text())["log_key"] == pinned
        refused = rotating.rotate("ca", "--finish")
        assert refused.exit_code == 1
        assert f"{bystander.agency}/gateway" in refused.output
        assert f"{publisher.agency}/gateway" not in refused.output
        assert rotating.rotate("ca", "--finish", "--force").exit_code == 0
        assert subjects(keys / "ca.pem") == [new_ca]
        assert not (keys / "ca-next.key.pem").exists()
        eventually(
            lambda: served_certificate(rotating.server.ui.port).issuer.rfc4514_string() == new_ca,
            "the server certificate from the new CA",
        )

        # After: the same client, with its renewed certificate, on a new connection.
        client.session.close()
        last = client.publish(publisher.envelope())
        assert receipt_kid(last.token) == new_kid
        client.publish(publisher.envelope())
        assert subjects(publisher.bundle_dir / "ca.pem") == [new_ca]
        for receipt in (first, during, after, last):
            client.get(receipt.record_id, purpose="investigation")

        # A certificate of the old CA completes the handshake and is refused, audited.
        bystander_client.session.close()
        with pytest.raises(ExchangeError) as denied:
            bystander_client.publish(bystander.envelope())
        assert denied.value.status == 403 and denied.value.code == "certificate_revoked"
        entry = entries(app, "auth.denied")[0]
        assert entry["actor"]["fingerprint"] == bystander.fingerprint
        finished = entries(app, "admin.rotate.ca.finish")[0]
        assert bystander.fingerprint in finished["details"]["revoked"]
        assert publisher.fingerprint in finished["details"]["revoked"]

    def test_expiry_within_30_days_shows_on_the_admin_page_and_in_the_metrics(
        self, rotating: Rotating
    ) -> None:
        app = rotating.app
        assert rotating.rotate("server-certificate", "--days", "20").exit_code == 0
        assert rotating.rotate("delivery").exit_code == 0
        eventually(
            lambda: (
                first_certificate(rotating.keys / "server.pem")
                == served_certificate(rotating.server.ui.port)
            ),
            "the short-lived certificate served",
        )
        delivery = first_certificate(rotating.keys / "delivery.pem")
        assert delivery.issuer == first_certificate(rotating.keys / "ca.pem").subject

        browser, _, _ = signed_in_admin(app, rotating.world)
        page = browser.get("/admin/systems").get_data(as_text=True)
        assert 'id="own-expiring"' in page
        server_row = page.split('id="own-server"', 1)[1].split("</tr>", 1)[0]
        assert server_row.startswith(' class="expiring"')
        assert "<td>19</td>" in server_row
        delivery_row = page.split('id="own-delivery"', 1)[1].split("</tr>", 1)[0]
        assert not delivery_row.startswith(' class="expiring"')

        listener = start_ops_listener(app, host="127.0.0.1", port=0)
        try:
            samples = scrape(listener)
        finally:
            listener.server.stop()
        assert 19 < value(samples, "exchange_certificate_expiry_days", certificate="server") <= 20
        assert value(samples, "exchange_certificate_expiry_days", certificate="delivery") > 800
        assert value(samples, "exchange_certificates_expiring") >= 1
        assert value(samples, "exchange_receipt_keys", status="active") == 1

    def test_a_retired_key_stays_published_and_its_private_half_is_destroyed(
        self, rotating: Rotating
    ) -> None:
        for _ in range(2):
            assert rotating.rotate("receipt-key").exit_code == 0
            assert rotating.rotate("receipt-key", "--end-overlap").exit_code == 0
        assert rotating.rotate("receipt-key", "--overlap-days", "3").exit_code == 0
        ring = json.loads((rotating.keys / "receipt-keys.json").read_text())["keys"]
        with rotating.operator.app_context():
            published = load_vault(rotating.operator).jwks()["keys"]
        statuses = [k["status"] for k in published]
        assert statuses[:2] == ["next", "active"] and set(statuses[2:]) == {"retired"}
        assert {k["kid"] for k in published} == {k["kid"] for k in ring}
        # Retired before this rotation: nothing left to sign with but the public half.
        retired = [k for k in ring if k["kid"] in {p["kid"] for p in published[2:]}]
        assert all(k["file"] is None for k in retired)
        assert not (rotating.keys / "exchange.key.pem").exists()
        assert sorted(p.name for p in rotating.keys.glob("*key.pem") if "receipt" in p.name) == (
            sorted(k["file"] for k in ring if k["file"])
        )


class TestDeliveryAcrossRotation:
    def test_a_receiver_takes_the_new_key_and_certificate_without_a_restart(
        self, tmp_path: Path
    ) -> None:
        with isolated_app(tmp_path / "instance", **FAST_RETRIES) as app:
            receiver = start_receiver(
                app, tmp_path / "receiver", refresh_keys=lambda: load_vault(app).jwks()
            )
            try:
                world = World(app, tmp_path / "bundles")
                publisher, subscriber = world.agency("immigration"), world.agency("police")
                subscribe_push(app, subscriber, receiver.endpoint)
                worker = build_worker(app)
                publish(app, publisher, 2)
                drain(app, worker, lambda: len(receiver.events) >= 2)
                old_kids = {k["kid"] for k in receiver.keys["keys"]}

                runner = app.test_cli_runner()
                rotated = runner.invoke(args=["rotate", "receipt-key", "--overlap-days", "0"])
                assert rotated.exit_code == 0, rotated.output
                assert runner.invoke(args=["rotate", "delivery"]).exit_code == 0
                publish(app, publisher, 2)
                drain(app, worker, lambda: len(receiver.events) >= 4)
            finally:
                receiver.stop()
        new_kids = set(receiver._receiver.keys) - old_kids
        assert len(new_kids) == 1
        delivery = (tmp_path / "instance" / "keys" / "delivery.pem").read_text().strip()
        assert receiver.peers[0] != delivery
        assert receiver.peers[-1] == delivery
