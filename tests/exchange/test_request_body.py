"""Request bodies over the limit: 413, the connection closed, nothing after it parsed."""

from __future__ import annotations

import json
import socket
import ssl
from typing import Any

import pytest
from flask import Flask

from exchange.serving import ExchangeServer
from tests.exchange.helpers import audit_entry
from tests.factories import AgencySystem, World


@pytest.fixture()
def police(world: World, server: ExchangeServer) -> AgencySystem:
    return world.agency("police")


def _connect(caller: AgencySystem) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=str(caller.bundle_dir / "ca.pem"))
    context.load_cert_chain(
        str(caller.bundle_dir / "client.pem"), str(caller.bundle_dir / "client.key.pem")
    )
    port = int(caller.world.served_at().rsplit(":", 1)[1])
    raw = socket.create_connection(("127.0.0.1", port), timeout=15)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def _read_all(connection: ssl.SSLSocket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while True:
        try:
            chunk = connection.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            break
        if not chunk:
            break
        received += chunk
    return received


def _chunked(body: bytes, size: int = 8192) -> bytes:
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def _responses(raw: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """The HTTP/1.1 responses in ``raw``, each with its Content-Length body."""
    responses = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        responses.append((status, headers, rest[:length]))
        raw = rest[length:]
    return responses


class TestChunkedBodies:
    def test_a_body_over_the_limit_is_refused_and_what_follows_it_is_never_a_request(
        self, app: Flask, police: AgencySystem
    ) -> None:
        limit = int(app.config["MAX_CONTENT_LENGTH"])
        # Past the limit, bytes that would read as a second request: a search.
        smuggled = (
            b"GET /api/v1/records?type=broker HTTP/1.1\r\nHost: x\r\n"
            b"Exchange-Purpose: investigation\r\n\r\n"
        )
        padding = b" " * (limit + 10)
        body = _chunked(b'{"record": ' + padding + b"}")
        with _connect(police) as connection:
            connection.sendall(
                b"POST /api/v1/records HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n" + body[: limit + 4096] + smuggled
            )
            responses = _responses(_read_all(connection))
        assert len(responses) == 1
        status, headers, payload = responses[0]
        assert status == 413
        assert headers["content-type"] == "application/problem+json"
        assert headers.get("connection") == "close"
        assert json.loads(payload)["code"] == "body_too_large"
        entry = audit_entry(app, headers["exchange-request-id"])
        assert entry["status"] == 413

    def test_a_body_within_the_limit_is_read_whole(self, app: Flask, police: AgencySystem) -> None:
        envelope = police.envelope()
        body = json.dumps(police.submission(envelope)).encode()
        with _connect(police) as connection:
            connection.sendall(
                b"POST /api/v1/records HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + _chunked(body, 100)
            )
            responses = _responses(_read_all(connection))
        assert [status for status, _, _ in responses] == [201]
        document: dict[str, Any] = json.loads(responses[0][2])
        assert document["id"] == envelope["id"]


class TestDeclaredLength:
    def test_a_declared_length_over_the_limit_is_answered_without_reading_the_body(
        self, app: Flask, police: AgencySystem
    ) -> None:
        limit = int(app.config["MAX_CONTENT_LENGTH"])
        with _connect(police) as connection:
            connection.sendall(
                b"POST /api/v1/records HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % (limit + 1)
            )
            responses = _responses(_read_all(connection))
        status, headers, payload = responses[0]
        assert (status, json.loads(payload)["code"]) == (413, "body_too_large")
        assert headers.get("connection") == "close"
