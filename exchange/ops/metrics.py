"""The process's own metrics, and their exposition alone or summed over server processes.

Counters and histograms live in this process. Under ``exchange serve --processes N`` the
servers write them to files in a folder the parent cleans at start (prometheus_client's
multi-process mode, chosen by ``PROMETHEUS_MULTIPROC_DIR`` before the first import), and
the parent's operations listener sums them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

# A *_created series beside every counter and histogram doubles what is scraped and stored
# for a start time Prometheus does not use.
disable_created_metrics()  # type: ignore[no-untyped-call]

PROCESS = CollectorRegistry()

REQUESTS = Counter(
    "exchange_http_requests",
    "Requests answered, by listener, route (the URL rule), method, status and actor kind.",
    ["listener", "route", "method", "status", "actor_kind"],
    registry=PROCESS,
)
REQUEST_SECONDS = Histogram(
    "exchange_http_request_duration_seconds",
    "Time from the request's arrival at the application to its last byte sent.",
    ["listener", "route", "method", "actor_kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=PROCESS,
)
PUSH_ATTEMPTS = Counter(
    "exchange_push_attempts",
    "Push deliveries attempted, by recipient agency.",
    ["recipient"],
    registry=PROCESS,
)
PUSH_FAILURES = Counter(
    "exchange_push_failures",
    "Push deliveries that failed (no 2xx answer), by recipient agency.",
    ["recipient"],
    registry=PROCESS,
)
PUSH_DEAD_LETTERS = Counter(
    "exchange_push_dead_letters",
    "Events parked as dead letters after push delivery gave up, by recipient agency.",
    ["recipient"],
    registry=PROCESS,
)


class _Families:
    """A collector of metric families read already (from the database, at this scrape)."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        yield from self._families


def multiprocess_directory() -> Path | None:
    value = os.environ.get(MULTIPROCESS_VARIABLE)
    return Path(value) if value else None


def prepare_multiprocess_directory(path: Path) -> None:
    """An empty folder for the servers' metric files: what an earlier run left is stale."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    os.environ[MULTIPROCESS_VARIABLE] = str(path)


def forget_process(pid: int) -> None:
    directory = multiprocess_directory()
    if directory is not None:
        mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]


def exposition(extra: Iterable[Metric] = (), *, summed: Path | None = None) -> bytes:
    """The Prometheus text format: this process's metrics, or those ``summed`` over the
    servers writing to that folder, followed by ``extra`` families."""
    registry = CollectorRegistry()
    if summed is not None:
        MultiProcessCollector(registry, path=str(summed))  # type: ignore[no-untyped-call]
    else:
        registry.register(_Families(PROCESS.collect()))
    registry.register(_Families(extra))
    return bytes(generate_latest(registry))
