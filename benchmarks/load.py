"""Load from client processes separate from the server, over mutual TLS with keep-alive.

Each worker thread holds one ``http.client.HTTPSConnection`` and sends its share of the
prepared requests one after the other. Every thread first sends its warm-up requests
(handshake, server caches), then all threads of all client processes start together at a
barrier; a thread stops when its requests run out or the time limit passes. Each client
process reports its own CPU time over the window, so a saturated client shows.

This module imports only the standard library: client processes start fast.
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import queue
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any

BARRIER_TIMEOUT = 180.0


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ClientIdentity:
    certificate: str
    private_key: str
    ca: str


@dataclass(frozen=True)
class LoadSpec:
    ports: tuple[int, ...]
    identity: ClientIdentity
    requests: list[Request]
    warmup: list[Request]
    concurrency: int
    expected_status: int
    max_seconds: float
    processes: int = 1
    host: str = "127.0.0.1"


@dataclass
class ThreadOutcome:
    latencies: list[float] = field(default_factory=list)
    failed: int = 0
    first_error: str | None = None
    last_done: float = 0.0


@dataclass
class ProcessOutcome:
    started: float
    latencies: list[float]
    failed: int
    first_error: str | None
    last_done: float
    cpu_seconds: float


@dataclass
class LoadResult:
    completed: int
    failed: int
    elapsed: float
    latencies: list[float]
    client_cpu: list[float]
    first_error: str | None
    window: float
    server_cpu: float = 0.0
    host_busy: float = 0.0

    @property
    def rate(self) -> float:
        return self.completed / self.elapsed if self.elapsed > 0 else 0.0

    def percentile(self, fraction: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
        return ordered[index]

    @property
    def client_cpu_share(self) -> float:
        """The busiest client process's CPU time over the window (1.0 = one core)."""
        return max(self.client_cpu, default=0.0) / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def server_cpu_share(self) -> float:
        return self.server_cpu / self.window if self.window > 0 else 0.0


def host_ticks() -> tuple[int, int]:
    """Busy and total CPU ticks of the whole machine, all cores (0, 0 without /proc)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def _context(identity: ClientIdentity) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=identity.ca)
    context.load_cert_chain(identity.certificate, identity.private_key)
    return context


def _send(connection: http.client.HTTPSConnection, request: Request) -> tuple[int, bytes]:
    headers = dict(request.headers)
    if request.body is not None:
        headers.setdefault("Content-Type", "application/json")
    connection.request(request.method, request.path, body=request.body, headers=headers)
    response = connection.getresponse()
    return response.status, response.read()


def _worker(
    spec: LoadSpec,
    port: int,
    context: ssl.SSLContext,
    mine: list[Request],
    warmup: list[Request],
    barrier: Any,
    outcome: ThreadOutcome,
) -> None:
    connection = http.client.HTTPSConnection(spec.host, port, context=context, timeout=120)

    def note_failure(text: str) -> None:
        outcome.failed += 1
        if outcome.first_error is None:
            outcome.first_error = text

    try:
        for request in warmup:
            status, body = _send(connection, request)
            if status != spec.expected_status:
                note_failure(f"warm-up {status}: {body[:300]!r}")
    except (OSError, http.client.HTTPException) as error:
        note_failure(f"warm-up: {error!r}")
        connection.close()
    barrier.wait(BARRIER_TIMEOUT)
    deadline = time.monotonic() + spec.max_seconds
    for request in mine:
        if time.monotonic() >= deadline:
            break
        started = time.perf_counter()
        try:
            status, body = _send(connection, request)
        except (OSError, http.client.HTTPException) as error:
            note_failure(f"{error!r}")
            connection.close()
            continue
        if status == spec.expected_status:
            outcome.latencies.append(time.perf_counter() - started)
        else:
            note_failure(f"{status}: {body[:300]!r}")
        outcome.last_done = time.monotonic()
    connection.close()


def _client_process(spec: LoadSpec, first: int, count: int, barrier: Any, results: Any) -> None:
    context = _context(spec.identity)
    outcomes = [ThreadOutcome() for _ in range(count)]
    threads = [
        threading.Thread(
            target=_worker,
            args=(
                spec,
                spec.ports[(first + index) % len(spec.ports)],
                context,
                spec.requests[first + index :: spec.concurrency],
                spec.warmup[first + index :: spec.concurrency],
                barrier,
                outcome,
            ),
            daemon=True,
        )
        for index, outcome in enumerate(outcomes)
    ]
    for thread in threads:
        thread.start()
    barrier.wait(BARRIER_TIMEOUT)
    started = time.monotonic()
    cpu_before = sum(os.times()[:2])
    for thread in threads:
        thread.join()
    cpu_after = sum(os.times()[:2])
    latencies = [value for outcome in outcomes for value in outcome.latencies]
    errors = [outcome.first_error for outcome in outcomes if outcome.first_error]
    results.put(
        ProcessOutcome(
            started=started,
            latencies=latencies,
            failed=sum(outcome.failed for outcome in outcomes),
            first_error=errors[0] if errors else None,
            last_done=max((outcome.last_done for outcome in outcomes), default=started),
            cpu_seconds=cpu_after - cpu_before,
        )
    )


def run_load(spec: LoadSpec, server_cpu: Any = None) -> LoadResult:
    """Run the load; ``server_cpu`` (a callable returning CPU seconds) is sampled around it."""
    context = multiprocessing.get_context("spawn")
    processes = max(1, min(spec.processes, spec.concurrency))
    shares = [
        spec.concurrency // processes + (i < spec.concurrency % processes) for i in range(processes)
    ]
    barrier = context.Barrier(spec.concurrency + processes + 1)
    results: Any = context.Queue()
    children = []
    first = 0
    for share in shares:
        child = context.Process(
            target=_client_process, args=(spec, first, share, barrier, results), daemon=True
        )
        child.start()
        children.append(child)
        first += share
    outcomes: list[ProcessOutcome] = []
    try:
        barrier.wait(BARRIER_TIMEOUT)
        window_start = time.monotonic()
        host_before = host_ticks()
        cpu_before = server_cpu() if server_cpu else 0.0
        limit = spec.max_seconds + BARRIER_TIMEOUT
        while len(outcomes) < len(children):
            try:
                outcomes.append(results.get(timeout=limit))
            except queue.Empty:
                raise RuntimeError("a client process did not report") from None
        window = time.monotonic() - window_start
        cpu_after = server_cpu() if server_cpu else 0.0
        host_after = host_ticks()
    finally:
        for child in children:
            child.join(timeout=30)
            if child.is_alive():
                child.kill()
    started = min(outcome.started for outcome in outcomes)
    ended = max(outcome.last_done for outcome in outcomes)
    latencies = [value for outcome in outcomes for value in outcome.latencies]
    errors = [outcome.first_error for outcome in outcomes if outcome.first_error]
    return LoadResult(
        completed=len(latencies),
        failed=sum(outcome.failed for outcome in outcomes),
        elapsed=max(ended - started, 1e-9),
        latencies=latencies,
        client_cpu=[outcome.cpu_seconds for outcome in outcomes],
        first_error=errors[0] if errors else None,
        window=window,
        server_cpu=cpu_after - cpu_before,
        host_busy=(host_after[0] - host_before[0]) / max(1, host_after[1] - host_before[1]),
    )
