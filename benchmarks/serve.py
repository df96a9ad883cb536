"""``python -m benchmarks.serve``: the exchange's server with every request profiled.

The same ``ExchangeServer`` that ``exchange serve`` runs, with the Flask application
wrapped so that each request runs under its worker thread's ``cProfile`` profiler. On
SIGTERM the server stops and the merged statistics are written to ``--profile``
(``python -m pstats FILE`` reads them). The TLS and HTTP work of cheroot outside the
application call is not in the profile; the bare endpoint measures that share.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import signal
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from exchange import create_app
from exchange.serving import ExchangeServer


class ProfiledApp:
    """A WSGI wrapper that profiles each request in its thread's own profiler."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.local = threading.local()
        self.profilers: list[cProfile.Profile] = []
        self.lock = threading.Lock()

    def _profiler(self) -> cProfile.Profile:
        profiler: cProfile.Profile | None = getattr(self.local, "profiler", None)
        if profiler is None:
            profiler = cProfile.Profile()
            self.local.profiler = profiler
            with self.lock:
                self.profilers.append(profiler)
        return profiler

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        profiler = self._profiler()
        profiler.enable()
        try:
            result = self.app(environ, start_response)
            try:
                return list(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        finally:
            profiler.disable()

    def dump(self, path: Path) -> None:
        with self.lock:
            profilers = list(self.profilers)
        if not profilers:
            return
        stats = pstats.Stats(profilers[0])
        for profiler in profilers[1:]:
            stats.add(profiler)
        stats.dump_stats(str(path))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serve", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--api-port", type=int, required=True)
    parser.add_argument("--ui-port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--profile", type=Path, required=True)
    options = parser.parse_args(argv)

    app = create_app()
    profiled = ProfiledApp(app.wsgi_app)
    app.wsgi_app = profiled  # type: ignore[method-assign]
    server = ExchangeServer(
        app=app,
        host=options.host,
        api_port=options.api_port,
        ui_port=options.ui_port,
        threads=options.threads,
    )
    server.start()
    print(f"API (mutual TLS): https://{server.host}:{server.api.port}/api/v1/", flush=True)
    stopping = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while not stopping.wait(0.5):
        pass
    server.stop()
    profiled.dump(options.profile)


if __name__ == "__main__":
    main()
