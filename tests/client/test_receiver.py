"""The push receiver on a real mutual-TLS listener.

The exchange's side is played here: ``requests`` with a client certificate from a CA made
for the test (the receiver's client CA), posting deliveries signed with an Ed25519 key made
for the test (the receiver's exchange key). The receiver's own server certificate comes
from another CA, as an agency's would.
"""

from __future__ import annotations

import json
import socket
import ssl
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from werkzeug.test import Client

from exchange.client.receiver import (
    DELIVERY_SIGNATURE_TYPE,
    MAX_DELIVERY_BYTES,
    PushReceiver,
    serve_receiver,
)
from keys.ca import CertificateAuthority, ClientBundle
from keys.jwk import public_jwk, thumbprint
from keys.jws import sign_compact

JOSE = "application/jose"


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


@dataclass(frozen=True)
class Side:
    """Certificate and key files of one side of the connection."""

    certificate: Path
    private_key: Path

    @property
    def cert(self) -> tuple[str, str]:
        return str(self.certificate), str(self.private_key)


def _side(directory: Path, name: str, bundle: ClientBundle) -> Side:
    return Side(
        _write(directory, f"{name}.pem", bundle.certificate.certificate_pem),
        _write(directory, f"{name}.key.pem", bundle.private_key_pem),
    )


@dataclass(frozen=True)
class Pki:
    exchange_ca: Path  # the receiver's client CA
    agency_ca: Path  # what the exchange trusts for the receiver's server certificate
    receiver: Side
    exchange: Side  # the exchange's push client certificate
    stranger: Side  # a client certificate from a CA the receiver does not trust
    expired: Side  # from the exchange's CA, long expired


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("receiver-pki")
    exchange_ca = CertificateAuthority.create(common_name="Exchange CA", organization="exchange")
    agency_ca = CertificateAuthority.create(common_name="Agency CA", organization="police")
    other_ca = CertificateAuthority.create(common_name="Other CA", organization="elsewhere")
    issued, key_pem = agency_ca.issue_server_certificate(
        hostnames=["localhost"], ip_addresses=["127.0.0.1"]
    )
    return Pki(
        exchange_ca=_write(directory, "exchange-ca.pem", exchange_ca.certificate_pem),
        agency_ca=_write(directory, "agency-ca.pem", agency_ca.certificate_pem),
        receiver=Side(
            _write(directory, "receiver.pem", issued.certificate_pem),
            _write(directory, "receiver.key.pem", key_pem),
        ),
        exchange=_side(
            directory,
            "push",
            exchange_ca.generate_client_bundle(agency="exchange", system="push"),
        ),
        stranger=_side(
            directory,
            "stranger",
            other_ca.generate_client_bundle(agency="exchange", system="push"),
        ),
        expired=_side(
            directory,
            "expired",
            exchange_ca.generate_client_bundle(
                agency="exchange",
                system="push",
                valid_days=1,
                now=datetime.now(UTC) - timedelta(days=30),
            ),
        ),
    )


@dataclass
class Signer:
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    @property
    def kid(self) -> str:
        return thumbprint(public_jwk(self.key))

    def delivery(
        self,
        events: list[dict[str, Any]],
        *,
        kid: str | None = None,
        typ: str = DELIVERY_SIGNATURE_TYPE,
    ) -> str:
        payload = {
            "subscription": "0193a1b2-0000-7000-8000-000000000001",
            "delivery": str(uuid.uuid4()),
            "sent_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "events": events,
        }
        return sign_compact(
            json.dumps(payload).encode(), key=self.key, kid=kid or self.kid, typ=typ
        )


def _events(*positions: int) -> list[dict[str, Any]]:
    # The receiver reads event_id only; the rest is what a feed event carries.
    return [
        {
            "event_id": str(position),
            "position": position,
            "kind": "created",
            "record": {"id": str(uuid.uuid4()), "version": 1},
            "signature": "",
            "receipt": "",
        }
        for position in positions
    ]


@dataclass
class Sink:
    batches: list[list[dict[str, Any]]] = field(default_factory=list)
    failures: int = 0

    def __call__(self, events: list[dict[str, Any]]) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the agency's store is down")
        self.batches.append(events)

    def positions(self) -> list[list[int]]:
        return [[event["position"] for event in batch] for batch in self.batches]


@dataclass
class Running:
    port: int
    sink: Sink
    pki: Pki

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}/deliveries"

    def post(
        self,
        body: str | bytes,
        *,
        content_type: str = JOSE,
        cert: Side | None = None,
    ) -> requests.Response:
        return requests.post(
            self.url,
            data=body,
            headers={"Content-Type": content_type},
            cert=(cert or self.pki.exchange).cert,
            verify=str(self.pki.agency_ca),
            timeout=10,
        )


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer()


@pytest.fixture()
def running(pki: Pki, signer: Signer) -> Iterator[Running]:
    sink = Sink()
    receiver = PushReceiver(keys={signer.kid: signer.key.public_key()}, on_events=sink)
    server = serve_receiver(
        receiver,
        host="127.0.0.1",
        port=0,
        certificate=pki.receiver.certificate,
        private_key=pki.receiver.private_key,
        client_ca=pki.exchange_ca,
    )
    try:
        yield Running(int(server.bind_addr[1]), sink, pki)
    finally:
        server.stop()


def _assert_problem(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    # What failed is named by a stable code, never by an exception's text.
    assert problem == {
        "type": "about:blank",
        "title": problem["title"],
        "status": status,
        "code": code,
    }


class TestDelivery:
    def test_signed_delivery_reaches_the_agency(self, running: Running, signer: Signer) -> None:
        events = _events(11, 12)
        response = running.post(signer.delivery(events))
        assert response.status_code == 204
        assert running.sink.batches == [events]

    def test_repeated_events_are_handed_over_once(self, running: Running, signer: Signer) -> None:
        token = signer.delivery(_events(21, 22))
        assert running.post(token).status_code == 204
        # The exchange retries a batch whose acknowledgement it did not see.
        assert running.post(token).status_code == 204
        assert running.post(signer.delivery(_events(22, 23, 23))).status_code == 204
        assert running.sink.positions() == [[21, 22], [23]]

    def test_a_batch_the_agency_could_not_take_is_taken_on_retry(
        self, running: Running, signer: Signer
    ) -> None:
        running.sink.failures = 1
        token = signer.delivery(_events(31))
        _assert_problem(running.post(token), 500, "delivery_not_processed")
        assert running.post(token).status_code == 204
        assert running.sink.positions() == [[31]]


class TestRefusedDeliveries:
    def test_tampered_payload(self, running: Running, signer: Signer) -> None:
        header, _, signature = signer.delivery(_events(41)).split(".")
        forged = signer.delivery(_events(41, 666)).split(".")[1]
        _assert_problem(
            running.post(f"{header}.{forged[::-1]}.{signature}"), 401, "signature_invalid"
        )
        _assert_problem(running.post(f"{header}.{forged}.{signature}"), 401, "signature_invalid")
        assert running.sink.batches == []

    def test_signed_by_another_key_under_the_exchange_kid(
        self, running: Running, signer: Signer
    ) -> None:
        impostor = Signer()
        token = impostor.delivery(_events(51), kid=signer.kid)
        _assert_problem(running.post(token), 401, "signature_invalid")
        _assert_problem(running.post(impostor.delivery(_events(52))), 401, "signature_invalid")
        assert running.sink.batches == []

    def test_wrong_typ(self, running: Running, signer: Signer) -> None:
        # A receipt or a record signature is signed by a trusted key too: typ tells them apart.
        for typ in ("exchange-receipt+jws", "exchange-record+jws", "JWT"):
            token = signer.delivery(_events(61), typ=typ)
            _assert_problem(running.post(token), 401, "signature_invalid")
        assert running.sink.batches == []

    def test_no_signature(self, running: Running) -> None:
        _assert_problem(running.post(b""), 401, "signature_invalid")
        _assert_problem(running.post(b"not a jws"), 401, "signature_invalid")

    def test_wrong_content_type(self, running: Running, signer: Signer) -> None:
        token = signer.delivery(_events(71))
        _assert_problem(
            running.post(token, content_type="application/json"), 415, "unsupported_media_type"
        )
        assert running.sink.batches == []

    def test_signed_payload_that_is_not_a_delivery(self, running: Running, signer: Signer) -> None:
        token = sign_compact(
            b'{"events": [{"no": "id"}]}',
            key=signer.key,
            kid=signer.kid,
            typ=DELIVERY_SIGNATURE_TYPE,
        )
        _assert_problem(running.post(token), 400, "delivery_malformed")


class TestHandshake:
    def _refused(self, running: Running, cert: Side | None) -> None:
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.post(
                running.url,
                data=b"x",
                headers={"Content-Type": JOSE},
                cert=cert.cert if cert else None,
                verify=str(running.pki.agency_ca),
                timeout=10,
            )
        assert running.sink.batches == []

    def test_without_a_client_certificate(self, running: Running) -> None:
        self._refused(running, None)

    def test_client_certificate_of_another_ca(self, running: Running, pki: Pki) -> None:
        self._refused(running, pki.stranger)

    def test_expired_client_certificate(self, running: Running, pki: Pki) -> None:
        self._refused(running, pki.expired)

    @pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")
    def test_tls_below_1_2(self, running: Running, pki: Pki) -> None:
        context = ssl.create_default_context(cafile=str(pki.agency_ca))
        context.load_cert_chain(*pki.exchange.cert)
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
        with pytest.raises((ssl.SSLError, OSError)):
            with socket.create_connection(("127.0.0.1", running.port), timeout=5) as raw:
                with context.wrap_socket(raw, server_hostname="localhost"):
                    pass
        assert running.sink.batches == []


class TestWsgi:
    """What needs no socket: the app alone, as a WSGI server calls it."""

    def _receiver(self, signer: Signer, sink: Sink) -> PushReceiver:
        jwks = {"keys": [public_jwk(signer.key) | {"kid": signer.kid, "use": "sig"}]}
        return PushReceiver(keys=jwks, on_events=sink)

    def test_keys_from_a_jwk_set(self, signer: Signer) -> None:
        sink = Sink()
        client = Client(self._receiver(signer, sink))
        response = client.post("/", data=signer.delivery(_events(81)), content_type=JOSE)
        assert response.status_code == 204
        assert sink.positions() == [[81]]

    def test_only_post(self, signer: Signer) -> None:
        response = Client(self._receiver(signer, Sink())).get("/")
        assert response.status_code == 405
        assert response.headers["Allow"] == "POST"
        assert response.json is not None and response.json["code"] == "method_not_allowed"

    def test_oversize_body(self, signer: Signer) -> None:
        response = Client(self._receiver(signer, Sink())).post(
            "/", data=b"a" * (MAX_DELIVERY_BYTES + 1), content_type=JOSE
        )
        assert response.status_code == 413
        assert response.json is not None and response.json["code"] == "body_too_large"
