"""An agency's push endpoint for tests: the SDK's receiver on its own mutual-TLS listener."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask

from exchange.client.receiver import PushReceiver, serve_receiver
from exchange.pki.vault import load_vault


@dataclass
class Receiver:
    directory: Path
    client_ca: Path
    keys: dict[str, Any]
    port: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    # The client certificate (PEM) each request came with: the exchange's delivery one.
    peers: list[str] = field(default_factory=list)
    answer: int | None = None  # a status to answer instead of receiving
    delay: float = 0.0
    # While set, deliveries wait here and are then answered 503 without being received:
    # a delivery the test can catch in flight.
    hold: threading.Event | None = None
    held: int = 0
    server: Any = None
    # Where the receiver fetches the exchange's keys again, for a key it has not seen.
    refresh_keys: Callable[[], dict[str, Any]] | None = None

    def app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.peers.append(str(environ.get("SSL_CLIENT_CERT", "")))
        if self.delay:
            time.sleep(self.delay)
        if self.hold is not None and not self.hold.is_set():
            self.held += 1
            self.hold.wait(60)
            start_response("503 Held", [("Content-Length", "0")])
            return [b""]
        if self.answer is not None:
            start_response(f"{self.answer} Refused", [("Content-Length", "0")])
            return [b""]
        return self._receiver(environ, start_response)

    def start(self) -> None:
        if not self.port:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]
        self._receiver = PushReceiver(
            keys=self.keys, on_events=self.events.extend, refresh_keys=self.refresh_keys
        )
        self.server = serve_receiver(
            self.app,
            host="127.0.0.1",
            port=self.port,
            certificate=self.directory / "receiver.pem",
            private_key=self.directory / "receiver.key.pem",
            client_ca=self.client_ca,
            reuse_port=True,
        )
        self.port = self.server.bind_addr[1]

    def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.stop()

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}/deliveries"

    def received_ids(self) -> list[str]:
        return [event["record"]["id"] for event in self.events]


def start_receiver(
    app: Flask, directory: Path, *, refresh_keys: Callable[[], dict[str, Any]] | None = None
) -> Receiver:
    """A receiver with a server certificate from the exchange's CA, listening."""
    with app.app_context():
        vault = load_vault()
        certificate, key_pem = vault.ca.issue_server_certificate(
            hostnames=["localhost"], ip_addresses=["127.0.0.1"]
        )
        keys = vault.jwks()
    directory.mkdir(parents=True)
    (directory / "receiver.pem").write_text(certificate.certificate_pem)
    (directory / "receiver.key.pem").write_text(key_pem)
    found = Receiver(directory, vault.ca_path, keys, refresh_keys=refresh_keys)
    found.start()
    return found
