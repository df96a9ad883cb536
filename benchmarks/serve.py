"""``python -m benchmarks.serve``: the exchange's server, profiled or with its audit timed.

The same ``ExchangeServer`` that ``exchange serve`` runs (without the in-process
integrator, whose cost is measured on its own). With ``--profile`` the Flask application
is wrapped so that each request runs under its worker thread's ``cProfile`` profiler; on
SIGTERM the merged statistics are written there (``python -m pstats FILE`` reads them).
The TLS and HTTP work of cheroot outside the application call is not in the profile.
With ``--time-audit`` every request's audit write (the entry's insert, and the commit it
makes) is timed, and the durations are written there as JSON on SIGTERM.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import signal
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from flask import Flask

from exchange import create_app
from exchange.serving import ExchangeServer, settle_collector


def _run_to_end(
    application: Callable[..., Iterable[bytes]], environ: dict[str, Any], start_response: Any
) -> list[bytes]:
    """Call a WSGI application and take its whole body, so that all its work is done."""
    result = application(environ, start_response)
    try:
        return list(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()


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
            return _run_to_end(self.app, environ, start_response)
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


class AuditTimer:
    """Per request: the entry's making, its insert and the commit it makes.

    A read commits only because of its entry, so the commit is the audit's; handing the
    connection back to the pool afterwards is not, as every request does it. Each write is
    timed twice: wall time (what the request waits, the database's work included) and the
    serving thread's CPU time (the exchange's own work). The whole request is timed too,
    from the WSGI call to its last byte, for the write's share of it.
    """

    def __init__(self) -> None:
        self.writes: list[float] = []
        self.write_cpu: list[float] = []
        self.requests: list[float] = []

    def install(self, app: Flask) -> None:
        from exchange.trail import recorder

        recorder.append_entry = self._timed(recorder.append_entry)  # type: ignore[attr-defined]
        app.wsgi_app = self._timed_request(app.wsgi_app)  # type: ignore[method-assign]

    def _timed_request(
        self, application: Callable[..., Iterable[bytes]]
    ) -> Callable[..., list[bytes]]:
        def timed(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            started = time.perf_counter()
            try:
                return _run_to_end(application, environ, start_response)
            finally:
                self.requests.append(time.perf_counter() - started)

        return timed

    def _timed(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started, started_cpu = time.perf_counter(), time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.write_cpu.append(time.thread_time() - started_cpu)
                self.writes.append(time.perf_counter() - started)

        return timed

    def dump(self, path: Path) -> None:
        path.write_text(
            json.dumps(
                {"writes": self.writes, "write_cpu": self.write_cpu, "requests": self.requests}
            )
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serve", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--api-port", type=int, required=True)
    parser.add_argument("--ui-port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument("--time-audit", type=Path, default=None)
    options = parser.parse_args(argv)

    app = create_app()
    profiled = None
    if options.profile is not None:
        profiled = ProfiledApp(app.wsgi_app)
        app.wsgi_app = profiled  # type: ignore[method-assign]
    timer = None
    if options.time_audit is not None:
        timer = AuditTimer()
        timer.install(app)
    server = ExchangeServer(
        app=app,
        host=options.host,
        api_port=options.api_port,
        ui_port=options.ui_port,
        threads=options.threads,
    )
    settle_collector()
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
    if profiled is not None:
        profiled.dump(options.profile)
    if timer is not None:
        timer.dump(options.time_audit)


if __name__ == "__main__":
    main()
