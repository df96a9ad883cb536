"""``python -m benchmarks.receiver``: push endpoints for the delivery-latency measurement.

One mutual-TLS listener (the SDK's ``serve_receiver``) serves ``/s/<n>``, each path with
its own ``PushReceiver`` — so each subscription's de-duplication is its own — and notes
when each record arrived on each path. On SIGTERM it writes the notes as JSON.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from exchange.client.receiver import PushReceiver, serve_receiver


class Endpoints:
    def __init__(self, keys: dict[str, Any]) -> None:
        self.keys = keys
        self.receivers: dict[str, PushReceiver] = {}
        self.arrivals: list[tuple[str, str, float]] = []
        self.lock = threading.Lock()

    def _receiver(self, path: str) -> PushReceiver:
        with self.lock:
            receiver = self.receivers.get(path)
            if receiver is None:

                def note(events: list[dict[str, Any]]) -> None:
                    now = time.time()
                    self.arrivals.extend((path, e["record"]["id"], now) for e in events)

                receiver = PushReceiver(keys=self.keys, on_events=note)
                self.receivers[path] = receiver
            return receiver

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return self._receiver(environ.get("PATH_INFO", "/"))(environ, start_response)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.receiver")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--certificate", type=Path, required=True)
    parser.add_argument("--private-key", type=Path, required=True)
    parser.add_argument("--client-ca", type=Path, required=True)
    parser.add_argument("--jwks", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    options = parser.parse_args(argv)
    endpoints = Endpoints(json.loads(options.jwks.read_text()))
    server = serve_receiver(
        endpoints,
        host="127.0.0.1",
        port=options.port,
        certificate=options.certificate,
        private_key=options.private_key,
        client_ca=options.client_ca,
        threads=16,
    )
    print("receiver ready", flush=True)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    while not stopping.wait(0.2):
        pass
    server.stop()
    options.out.write_text(json.dumps(endpoints.arrivals))


if __name__ == "__main__":
    main()
