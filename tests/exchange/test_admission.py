"""Turns at the application: a few requests in at once, bodies read before a turn is taken."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from cheroot import wsgi
from flask import Flask

from exchange.admission import ENVIRON_KEY, Admission, waiting_aside


class _Probe:
    """A WSGI application that counts the requests inside it and echoes their bodies."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inside = 0
        self.most_inside = 0
        self.hold = 0.2

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        with self.lock:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            if environ["PATH_INFO"] == "/slow":
                time.sleep(self.hold)
            start_response(
                "200 OK",
                [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(body)))],
            )
            return [body]
        finally:
            with self.lock:
                self.inside -= 1


@pytest.fixture()
def probe() -> _Probe:
    return _Probe()


def _serve(application: Any) -> Iterator[int]:
    server = wsgi.Server(("127.0.0.1", 0), application, numthreads=8, timeout=5)
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield int(server.bind_addr[1])
    finally:
        server.stop()
        thread.join(timeout=10)


def _post(port: int, path: str, body: bytes) -> bytes:
    response = requests.post(f"http://127.0.0.1:{port}{path}", data=body, timeout=10)
    response.raise_for_status()
    return response.content


class TestTurns:
    @pytest.mark.parametrize("slots", [1, 3])
    def test_no_more_requests_than_slots_are_inside_at_once(
        self, probe: _Probe, slots: int
    ) -> None:
        for port in _serve(Admission(probe, slots=slots, max_body=1024)):
            threads = [threading.Thread(target=_post, args=(port, "/slow", b"x")) for _ in range(6)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
        assert probe.most_inside == slots

    def test_a_slow_sender_holds_no_turn(self, probe: _Probe) -> None:
        probe.hold = 0.0
        for port in _serve(Admission(probe, slots=1, max_body=1024)):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
                slow.sendall(
                    b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 20\r\n\r\n"
                    b"first half"
                )
                # The one turn is free while the slow body is still arriving.
                assert _post(port, "/echo", b"meanwhile") == b"meanwhile"
                slow.sendall(b"other half")
                reply = _read_reply(slow)
        assert reply.endswith(b"\r\n\r\nfirst halfother half")

    def test_a_body_cut_short_reaches_the_application_as_far_as_it_came(
        self, probe: _Probe
    ) -> None:
        probe.hold = 0.0
        for port in _serve(Admission(probe, slots=1, max_body=1024)):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sender:
                sender.sendall(
                    b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 20\r\n\r\nonly this"
                )
                sender.shutdown(socket.SHUT_WR)
                reply = _read_reply(sender)
        assert reply.endswith(b"\r\n\r\nonly this")

    def test_a_body_over_the_limit_is_left_for_the_application(self, probe: _Probe) -> None:
        probe.hold = 0.0
        for port in _serve(Admission(probe, slots=1, max_body=4)):
            assert _post(port, "/echo", b"longer than four") == b"longer than four"

    def test_a_request_waiting_aside_lets_another_in(self, probe: _Probe) -> None:
        admission = Admission(probe, slots=1, max_body=1024)
        app = Flask(__name__)
        entered = threading.Event()
        release = threading.Event()

        def waiter() -> None:
            with app.test_request_context(environ_base={ENVIRON_KEY: admission}):
                with admission._turns:
                    with waiting_aside():
                        entered.set()
                        release.wait(10)

        thread = threading.Thread(target=waiter)
        thread.start()
        assert entered.wait(10)
        # The waiter's turn is free: this takes it at once and gives it back.
        assert admission._turns.acquire(timeout=1)
        admission._turns.release()
        release.set()
        thread.join(timeout=10)

    def test_at_least_one_turn(self, probe: _Probe) -> None:
        with pytest.raises(ValueError, match="at least one"):
            Admission(probe, slots=0, max_body=None)


def _read_reply(connection: socket.socket) -> bytes:
    """One HTTP response, head and body, read by its Content-Length."""
    reply = b""
    while b"\r\n\r\n" not in reply:
        reply += connection.recv(4096)
    head, _, body = reply.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += connection.recv(4096)
    return head + b"\r\n\r\n" + body
