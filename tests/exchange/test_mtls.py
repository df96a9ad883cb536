"""Mutual TLS over real sockets: refused at the handshake, or after it with an audit entry."""

from __future__ import annotations

import socket
import ssl
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from exchange.clock import utcnow
from exchange.pki.service import revoke_certificate
from exchange.pki.vault import load_vault
from exchange.serving import ExchangeServer
from keys.ca import CertificateAuthority
from tests.exchange.helpers import audit_entry
from tests.factories import OPERATOR, World


def _handshake(port: int, context: ssl.SSLContext) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"GET /api/v1/identity HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert tls.recv(1)


def _context(app: Flask) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(load_vault(app).ca_path))
    return context


class TestHandshake:
    def test_no_client_certificate_is_refused_at_the_handshake(
        self, app: Flask, server: ExchangeServer
    ) -> None:
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            _handshake(server.api.port, _context(app))

    def test_certificate_of_another_ca_is_refused_at_the_handshake(
        self, app: Flask, server: ExchangeServer, tmp_path: Path
    ) -> None:
        other = CertificateAuthority.create(common_name="Other CA", organization="other")
        bundle = other.generate_client_bundle(agency="isa", system="gateway")
        (tmp_path / "c.pem").write_text(bundle.certificate.certificate_pem)
        (tmp_path / "k.pem").write_text(bundle.private_key_pem)
        context = _context(app)
        context.load_cert_chain(str(tmp_path / "c.pem"), str(tmp_path / "k.pem"))
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            _handshake(server.api.port, context)

    @pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")
    def test_tls_below_1_2_is_refused(
        self, app: Flask, world: World, server: ExchangeServer
    ) -> None:
        caller = world.agency("immigration")
        context = _context(app)
        context.load_cert_chain(
            str(caller.bundle_dir / "client.pem"), str(caller.bundle_dir / "client.key.pem")
        )
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            _handshake(server.api.port, context)

    def test_registered_certificate_is_the_identity(
        self, world: World, server: ExchangeServer
    ) -> None:
        caller = world.agency("immigration")
        with caller.client() as exchange:
            identity = exchange.request("GET", "/api/v1/identity")
        assert identity["agency"]["id"] == caller.agency
        assert identity["fingerprint"] == caller.fingerprint


class TestRefusedAfterHandshake:
    def _get(self, caller: Any, server: ExchangeServer) -> requests.Response:
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE would replace the pinned CA
        session.cert = (
            str(caller.bundle_dir / "client.pem"),
            str(caller.bundle_dir / "client.key.pem"),
        )
        session.verify = str(caller.bundle_dir / "ca.pem")
        return session.get(f"https://127.0.0.1:{server.api.port}/api/v1/identity", timeout=10)

    def test_revoked_certificate_is_refused_and_audited(
        self, app: Flask, world: World, server: ExchangeServer
    ) -> None:
        caller = world.agency("police")
        assert self._get(caller, server).status_code == 200
        with app.app_context():
            from exchange.extensions import db

            revoke_certificate(
                actor=OPERATOR, fingerprint=caller.fingerprint, reason="key_compromise"
            )
            db.session.commit()
        response = self._get(caller, server)
        assert response.status_code == 403
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "certificate_revoked"
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "auth.denied"
        assert entry["outcome"] == "denied"
        assert entry["actor"]["fingerprint"] == caller.fingerprint

    def test_expired_certificate_is_refused_and_audited(
        self, app: Flask, world: World, server: ExchangeServer
    ) -> None:
        caller = world.agency("police", valid_days=1, now=utcnow() - timedelta(days=10))
        response = self._get(caller, server)
        assert response.status_code == 401
        assert response.json()["code"] == "certificate_expired"
        assert audit_entry(app, response.headers["Exchange-Request-Id"])["action"] == "auth.denied"

    def test_unregistered_certificate_of_our_ca_is_refused_and_audited(
        self, app: Flask, world: World, server: ExchangeServer, tmp_path: Path
    ) -> None:
        bundle = load_vault(app).ca.generate_client_bundle(agency="isa", system="rogue")
        (tmp_path / "client.pem").write_text(bundle.certificate.certificate_pem)
        (tmp_path / "client.key.pem").write_text(bundle.private_key_pem)
        (tmp_path / "ca.pem").write_text(bundle.ca_certificate_pem)

        class Caller:
            bundle_dir = tmp_path

        response = self._get(Caller, server)
        assert response.status_code == 401
        assert response.json()["code"] == "certificate_unknown"
        entry = audit_entry(app, response.headers["Exchange-Request-Id"])
        assert entry["action"] == "auth.denied"
        assert entry["actor"]["fingerprint"] == bundle.certificate.fingerprint

    def test_api_through_the_people_listener_is_refused_and_audited(
        self, app: Flask, server: ExchangeServer
    ) -> None:
        session = requests.Session()
        session.trust_env = False
        response = session.get(
            f"https://127.0.0.1:{server.ui.port}/api/v1/records",
            verify=str(load_vault(app).ca_path),
            timeout=10,
        )
        assert response.status_code == 401
        assert response.json()["code"] == "certificate_required"
        assert audit_entry(app, response.headers["Exchange-Request-Id"])["outcome"] == "denied"
