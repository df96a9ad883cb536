"""Certificates from the CA in a real mutual-TLS handshake over the loopback interface."""

import socket
import ssl
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from keys import CertificateAuthority, ClientBundle

_TIMEOUT = 10


@dataclass
class _ServerOutcome:
    peer: dict[str, Any] | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _server_context(
    ca: CertificateAuthority, tmp_path: Path, hostnames: list[str]
) -> ssl.SSLContext:
    issued, key_pem = ca.issue_server_certificate(hostnames=hostnames, ip_addresses=["127.0.0.1"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(
        _write(tmp_path, "server.pem", issued.certificate_pem),
        _write(tmp_path, "server.key", key_pem),
    )
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    context.load_verify_locations(cadata=ca.certificate_pem)
    return context


def _client_context(
    server_ca: CertificateAuthority, bundle: ClientBundle, tmp_path: Path
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Python 3.13 turns strict verification on by default; the CA's certificates must pass it.
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    context.load_verify_locations(cadata=server_ca.certificate_pem)
    context.load_cert_chain(
        _write(tmp_path, "client.pem", bundle.certificate.certificate_pem),
        _write(tmp_path, "client.key", bundle.private_key_pem),
    )
    return context


def _handshake(
    ca: CertificateAuthority,
    bundle: ClientBundle,
    tmp_path: Path,
    *,
    server_hostnames: list[str] | None = None,
) -> tuple[_ServerOutcome, bytes | BaseException]:
    """Serve one connection with ``ca``'s server certificate; connect with ``bundle``."""
    server_context = _server_context(ca, tmp_path, server_hostnames or ["localhost"])
    client_context = _client_context(ca, bundle, tmp_path)
    outcome = _ServerOutcome()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(_TIMEOUT)
    port = listener.getsockname()[1]

    def serve() -> None:
        try:
            connection, _ = listener.accept()
            connection.settimeout(_TIMEOUT)
            with server_context.wrap_socket(connection, server_side=True) as tls:
                outcome.peer = tls.getpeercert()
                tls.sendall(b"ok")
        except (OSError, ssl.SSLError) as exc:
            outcome.error = exc
        finally:
            outcome.done.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    received: bytes | BaseException
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=_TIMEOUT) as raw:
            with client_context.wrap_socket(raw, server_hostname="localhost") as tls:
                # With TLS 1.3 the server judges the client certificate after the client's
                # handshake has finished, so the refusal arrives on the first read.
                received = tls.recv(2)
    except (OSError, ssl.SSLError) as exc:
        received = exc
    finally:
        thread.join(_TIMEOUT)
        listener.close()
    assert outcome.done.is_set()
    return outcome, received


class TestMutualTls:
    def test_client_bundle_from_the_ca_is_accepted(
        self, ca: CertificateAuthority, tmp_path: Path
    ) -> None:
        bundle = ca.generate_client_bundle(agency="isa", system="case-mgmt")
        outcome, received = _handshake(ca, bundle, tmp_path)
        assert outcome.error is None
        assert received == b"ok"
        assert outcome.peer is not None
        assert outcome.peer["subjectAltName"] == (("URI", "urn:exchange:system:isa:case-mgmt"),)

    def test_client_certificate_from_another_ca_is_refused(
        self, ca: CertificateAuthority, other_ca: CertificateAuthority, tmp_path: Path
    ) -> None:
        bundle = other_ca.generate_client_bundle(agency="isa", system="case-mgmt")
        outcome, received = _handshake(ca, bundle, tmp_path)
        assert isinstance(outcome.error, ssl.SSLError)
        assert outcome.peer is None
        assert received != b"ok"

    def test_expired_client_certificate_is_refused(
        self, ca: CertificateAuthority, tmp_path: Path
    ) -> None:
        bundle = ca.generate_client_bundle(
            agency="isa", system="old", valid_days=1, now=datetime.now(UTC) - timedelta(days=730)
        )
        outcome, received = _handshake(ca, bundle, tmp_path)
        assert isinstance(outcome.error, ssl.SSLError)
        assert received != b"ok"

    def test_server_certificate_must_name_the_host(
        self, ca: CertificateAuthority, tmp_path: Path
    ) -> None:
        bundle = ca.generate_client_bundle(agency="isa", system="case-mgmt")
        outcome, received = _handshake(ca, bundle, tmp_path, server_hostnames=["other.example"])
        assert isinstance(received, ssl.SSLCertVerificationError)
        assert outcome.peer is None
