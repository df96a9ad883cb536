"""The access log: one JSON line per request, naming its audit entry and nothing it carried;
clients that go away leave one line, not a traceback."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import ssl
import struct
import time
from typing import Any

import pytest
from flask import Flask

from exchange.ops.logs import JsonFormatter
from exchange.serving import ExchangeServer, ExchangeWSGIServer
from tests.exchange.helpers import audit_entry
from tests.factories import World

SECRET_TERM = "ひみつの検索語"


def access_lines(caplog: pytest.LogCaptureFixture, request_id: str) -> list[dict[str, Any]]:
    """The access lines naming ``request_id``, as JSON; logged once the response is sent."""
    formatter = JsonFormatter()
    deadline = time.monotonic() + 10
    while True:
        lines = [
            json.loads(formatter.format(record))
            for record in caplog.records
            if record.name == "exchange.access"
        ]
        found = [line for line in lines if line.get("request_id") == request_id]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_a_search_leaves_one_json_line_with_its_audit_entry_and_not_its_term(
    app: Flask, world: World, server: ExchangeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="exchange.access")
    searcher = world.agency("police")
    with searcher.client() as client:
        response = client.session.get(
            f"{world.served_at()}/api/v1/records",
            params={"q": SECRET_TERM, "type": "broker"},
            headers={"Exchange-Purpose": "investigation"},
            verify=client.ca,
            timeout=30,
        )
    assert response.status_code == 200
    request_id = response.headers["Exchange-Request-Id"]

    [line] = access_lines(caplog, request_id)
    assert audit_entry(app, request_id)["action"] == "record.search"
    assert line["method"] == "GET"
    assert line["route"] == "/api/v1/records"
    assert line["status"] == 200
    assert line["listener"] == "api"
    assert line["actor"] == {"kind": "system", "agency": searcher.agency, "system": "gateway"}
    assert line["bytes"] == len(response.content)
    assert line["duration_ms"] > 0
    assert line["time"].endswith("Z")
    text = json.dumps(line, ensure_ascii=False)
    assert SECRET_TERM not in text and "q=" not in text and "?" not in text


def test_a_read_logs_the_route_not_the_record_it_named(
    app: Flask, world: World, server: ExchangeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="exchange.access")
    reader = world.agency("police")
    with reader.client() as client:
        response = client.session.get(
            f"{world.served_at()}/api/v1/records/0193a1b2-0000-7000-8000-000000000000",
            headers={"Exchange-Purpose": "investigation"},
            verify=client.ca,
            timeout=30,
        )
    assert response.status_code == 404
    [line] = access_lines(caplog, response.headers["Exchange-Request-Id"])
    assert line["route"] == "/api/v1/records/<record_id:record_id>"
    assert line["status"] == 404
    assert "0193a1b2" not in json.dumps(line)


def test_clients_that_go_away_leave_no_traceback(
    server: ExchangeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="exchange.serving")
    # A connection dropped before its handshake, and one that speaks plain HTTP.
    with socket.create_connection(("127.0.0.1", server.api.port)):
        pass
    with socket.create_connection(("127.0.0.1", server.ui.port)) as plain:
        plain.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        with contextlib.suppress(OSError):
            plain.recv(1024)
    # TLS clients that reset the connection while the answer is being sent: how much of
    # it the kernel buffers varies, so a few tries until one lands mid-answer.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    for _ in range(30):
        raw = socket.create_connection(("127.0.0.1", server.ui.port))
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        with context.wrap_socket(raw) as tls:
            tls.sendall(b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")
            tls.recv(100)
            tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        time.sleep(0.3)
        if any("socket.error" in r.getMessage() for r in caplog.records):
            break
    connection_records = [r for r in caplog.records if r.name.startswith("exchange.serving")]
    # cheroot reports a reset mid-answer as a socket error, with a traceback of its own.
    assert any("socket.error" in r.getMessage() for r in connection_records)
    assert all(r.exc_info is None for r in connection_records)
    assert all(r.levelno <= logging.INFO for r in connection_records)
    assert all("\n" not in r.getMessage() for r in connection_records)


def test_a_server_fault_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="exchange.serving")
    server = ExchangeWSGIServer(("127.0.0.1", 0), lambda environ, start: [])
    try:
        raise ConnectionResetError(104, "Connection reset by peer")
    except ConnectionResetError:
        server.error_log("socket.error 104", level=logging.WARNING, traceback=True)
    try:
        raise RuntimeError("a fault of the server")
    except RuntimeError:
        server.error_log("RuntimeError()", level=logging.ERROR, traceback=True)
    gone, fault = caplog.records[-2:]
    assert gone.levelno == logging.DEBUG and gone.exc_info is None
    assert fault.levelno == logging.ERROR and fault.exc_info is not None
