"""The measurements, and the table that puts each beside its baseline from the same run.

Publish, batch and read are measured on this version and on the baseline revision
(``--baseline-rev``, exported by ``benchmarks.revision``), each on an instance of its own,
in alternating rounds so that the machine's drift falls on both alike. Every other
measurement carries its own baseline: the store before it was filled, one process against
two, the collector left at CPython's defaults, the bare SQL of the same statement.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import pstats
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks.auditlog import integrate_backlog, measure_audit
from benchmarks.envelopes import EnvelopeMaker
from benchmarks.feeds import measure_feeds
from benchmarks.fill import fill_store
from benchmarks.instance import (
    Caller,
    Instance,
    create_instance,
    drop_instance,
    populate,
    postgres_reachable,
)
from benchmarks.load import ClientIdentity, LoadResult, LoadSpec, Request, run_load
from benchmarks.revision import describe_revision, export_revision, revision_instance
from benchmarks.search import measure_search
from benchmarks.servers import ServerProcess, cpu_seconds, exchange_server

RECORDS_PATH = "/api/v1/records"
PURPOSE = "investigation"
BATCH_SIZE = 100
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/bench"
MEASUREMENTS = (
    "publish",
    "batch",
    "read",
    "collector",
    "fill",
    "scaling",
    "audit",
    "feed",
    "search",
)
# Measured on this version and on the baseline revision.
AGAINST_REVISION = ("publish", "batch", "read")
THIS = "exchange"
BASELINE = "baseline"
# Within a quarter of the baseline revision: rates at least 0.75 of its, p95 at most 1.25.
SLOWEST_RATE = 0.75
SLOWEST_LATENCY = 1.25
SCALING_TARGET = 1.25
# A client process busier than this (share of one core) may be what limits a load.
CLIENT_SATURATED = 0.8


@dataclass(frozen=True)
class Counts:
    """Requests per load; every load also stops at ``max_seconds``."""

    single: int
    batch: int
    read: int
    read_serial: int
    fill_publish: int
    scaling: int
    warmup: int
    max_seconds: float
    records_filled: int
    search_records: int


FULL = Counts(
    single=3000,
    batch=100,
    read=2000,
    read_serial=1000,
    fill_publish=3000,
    scaling=3000,
    warmup=5,
    max_seconds=30.0,
    records_filled=1_000_000,
    search_records=1_000_000,
)
QUICK = Counts(
    single=48,
    batch=4,
    read=48,
    read_serial=24,
    fill_publish=48,
    scaling=48,
    warmup=1,
    max_seconds=20.0,
    records_filled=20_000,
    search_records=20_000,
)


@dataclass
class Row:
    measurement: str
    what: str
    figure: str
    baseline: str = ""
    ratio: float | None = None
    latency: str = ""
    baseline_latency: str = ""
    target: str = ""
    met: bool | None = None


@dataclass
class LoadRecord:
    label: str
    completed: int
    failed: int
    seconds: float
    rate: float
    p50_ms: float
    p95_ms: float
    server_cpu: float
    client_cpu: float
    host_busy: float
    first_error: str | None


@dataclass
class Bench:
    options: argparse.Namespace
    counts: Counts
    root: Path
    instance: Instance
    # The baseline revision's instance, its servers running that revision's code.
    baseline: Instance | None = None
    loads: list[LoadRecord] = field(default_factory=list)
    profiles: list[Path] = field(default_factory=list)
    _seeds: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def publisher(self) -> Caller:
        return self.instance.callers["bench-isa"]

    @property
    def reader(self) -> Caller:
        return self.instance.callers["bench-npa"]

    @property
    def concurrency(self) -> int:
        return int(self.options.concurrency)

    @property
    def versions(self) -> list[tuple[str, Instance]]:
        versions = [(THIS, self.instance)]
        if self.baseline is not None:
            versions.append((BASELINE, self.baseline))
        return versions

    def rounds(self) -> Iterator[tuple[int, list[tuple[str, Instance]]]]:
        """Each round's versions, the first going first in one round and last in the next."""
        for number in range(self.options.rounds):
            versions = self.versions
            yield number, versions if number % 2 == 0 else versions[::-1]

    def maker(self, instance: Instance | None = None, *, seed: int | None = None) -> EnvelopeMaker:
        """Envelopes for ``instance``'s publisher; the same ``seed`` makes the same records."""
        caller = (instance or self.instance).callers["bench-isa"]
        stream = next(self._seeds) if seed is None else seed
        return EnvelopeMaker(caller, seed=stream * 7919 + self.options.seed)

    def exchange(
        self,
        label: str,
        instance: Instance | None = None,
        processes: int = 1,
        *,
        settled_collector: bool = True,
    ) -> AbstractContextManager[ServerProcess]:
        instance = instance or self.instance
        profile = None
        if self.options.profile is not None and processes == 1 and instance is self.instance:
            profile = self.options.profile / f"{label}.prof"
            self.profiles.append(profile)
        return exchange_server(
            instance,
            threads=self.options.threads,
            processes=processes,
            profile=profile,
            settled_collector=settled_collector,
        )

    def load(
        self,
        label: str,
        server: ServerProcess,
        requests: list[Request],
        warmup: list[Request],
        *,
        caller: Caller | None = None,
        expected: int = 201,
        concurrency: int | None = None,
        per_request: int = 1,
    ) -> LoadResult:
        caller = caller or self.publisher
        spec = LoadSpec(
            ports=(server.port,),
            identity=ClientIdentity(
                str(caller.certificate), str(caller.private_key), str(caller.ca)
            ),
            requests=requests,
            warmup=warmup,
            concurrency=concurrency or self.concurrency,
            expected_status=expected,
            max_seconds=self.counts.max_seconds,
            processes=self.options.client_processes,
        )
        workers = server.workers
        result = run_load(spec, lambda: cpu_seconds(workers))
        record = LoadRecord(
            label=label,
            completed=result.completed,
            failed=result.failed,
            seconds=result.elapsed,
            rate=result.rate * per_request,
            p50_ms=result.percentile(0.5) * 1000,
            p95_ms=result.percentile(0.95) * 1000,
            server_cpu=result.server_cpu_share,
            client_cpu=result.client_cpu_share,
            host_busy=result.host_busy,
            first_error=result.first_error,
        )
        self.loads.append(record)
        _progress(
            f"  {label}: {record.completed} ok, {record.failed} failed, "
            f"{record.rate:,.0f}/s, p50 {record.p50_ms:.1f} ms, p95 {record.p95_ms:.1f} ms, "
            f"server cpu {record.server_cpu:.0%}, client cpu {record.client_cpu:.0%}, "
            f"host busy {record.host_busy:.0%}"
        )
        if result.first_error:
            _progress(f"    first error: {result.first_error}")
        if record.client_cpu > CLIENT_SATURATED:
            _progress(
                "    a client process was busy most of the window: the client may be the "
                "bottleneck (try --client-processes 2)"
            )
        return result


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _posts(bodies: Sequence[bytes]) -> list[Request]:
    return [Request("POST", RECORDS_PATH, body) for body in bodies]


def _ms(result: LoadResult) -> str:
    return f"{result.percentile(0.5) * 1000:.1f}/{result.percentile(0.95) * 1000:.1f}"


def _ratio(figure: float, baseline: float) -> float | None:
    return figure / baseline if baseline > 0 else None


# The measurements -------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """One version's figure over its rounds: the median of each round's."""

    rate: float
    p50: float
    p95: float

    @classmethod
    def of(cls, results: Sequence[LoadResult], per_request: int = 1) -> Summary:
        return cls(
            rate=statistics.median(r.rate for r in results) * per_request,
            p50=statistics.median(r.percentile(0.5) for r in results),
            p95=statistics.median(r.percentile(0.95) for r in results),
        )

    @property
    def latency(self) -> str:
        return f"{self.p50 * 1000:.1f}/{self.p95 * 1000:.1f}"


def _rate_row(
    bench: Bench,
    measurement: str,
    what: str,
    unit: str,
    results: dict[str, list[LoadResult]],
    per_request: int = 1,
) -> Row:
    """This version's rate beside the baseline revision's, when there is one."""
    this = Summary.of(results[THIS], per_request)
    row = Row(measurement, what, f"{this.rate:,.0f} {unit}", latency=this.latency)
    if BASELINE in results:
        base = Summary.of(results[BASELINE], per_request)
        row.baseline = f"{base.rate:,.0f} {unit}"
        row.baseline_latency = base.latency
        row.ratio = _ratio(this.rate, base.rate)
        row.target = f"≥{SLOWEST_RATE:.2f}"
        row.met = row.ratio is not None and row.ratio >= SLOWEST_RATE
    return row


def _latency_row(measurement: str, what: str, results: dict[str, list[LoadResult]]) -> Row:
    """This version's p95 beside the baseline revision's; the ratio is of the p95s."""
    this = Summary.of(results[THIS])
    row = Row(measurement, what, f"p95 {this.p95 * 1000:.1f} ms", latency=this.latency)
    if BASELINE in results:
        base = Summary.of(results[BASELINE])
        row.baseline = f"p95 {base.p95 * 1000:.1f} ms"
        row.baseline_latency = base.latency
        row.ratio = _ratio(this.p95, base.p95)
        row.target = f"≤{SLOWEST_LATENCY:.2f}"
        row.met = row.ratio is not None and row.ratio <= SLOWEST_LATENCY
    return row


def measure_publish(bench: Bench) -> list[Row]:
    """Single-record publish at concurrency C, this version against the baseline's."""
    results: dict[str, list[LoadResult]] = {name: [] for name, _ in bench.versions}
    for number, versions in bench.rounds():
        for name, instance in versions:
            maker = bench.maker(instance, seed=100 + number)
            bodies, _ = maker.single_bodies(bench.counts.single)
            warm, _ = maker.single_bodies(bench.counts.warmup * bench.concurrency)
            with bench.exchange(f"publish-{name}-{number}", instance) as server:
                results[name].append(
                    bench.load(
                        f"publish {name} round {number + 1}",
                        server,
                        _posts(bodies),
                        _posts(warm),
                        caller=instance.callers["bench-isa"],
                    )
                )
    what = f"1 record/request, c={bench.concurrency}"
    return [_rate_row(bench, "publish", what, "req/s", results)]


def measure_batch(bench: Bench) -> list[Row]:
    """Batches of 100: records per second, this version against the baseline's."""
    results: dict[str, list[LoadResult]] = {name: [] for name, _ in bench.versions}
    for number, versions in bench.rounds():
        for name, instance in versions:
            maker = bench.maker(instance, seed=200 + number)
            requests = _posts(maker.batch_bodies(bench.counts.batch, BATCH_SIZE))
            warmup = _posts(maker.batch_bodies(bench.concurrency, BATCH_SIZE))
            with bench.exchange(f"batch-{name}-{number}", instance) as server:
                results[name].append(
                    bench.load(
                        f"batch {name} round {number + 1}",
                        server,
                        requests,
                        warmup,
                        caller=instance.callers["bench-isa"],
                        per_request=BATCH_SIZE,
                    )
                )
    what = f"{BATCH_SIZE} records/request, c={bench.concurrency}"
    return [_rate_row(bench, "batch", what, "rec/s", results, BATCH_SIZE)]


def measure_collector(bench: Bench) -> list[Row]:
    """Batches with the collector as ``exchange serve`` settles it, and as CPython sets it."""
    results: dict[str, list[LoadResult]] = {"settled": [], "default": []}
    for number in range(bench.options.rounds):
        order = ("settled", "default") if number % 2 == 0 else ("default", "settled")
        for name in order:
            maker = bench.maker(seed=300 + 2 * number + (name == "default"))
            requests = _posts(maker.batch_bodies(bench.counts.batch, BATCH_SIZE))
            warmup = _posts(maker.batch_bodies(bench.concurrency, BATCH_SIZE))
            with bench.exchange(
                f"collector-{name}-{number}", settled_collector=name == "settled"
            ) as server:
                results[name].append(
                    bench.load(
                        f"batch, collector {name}, round {number + 1}",
                        server,
                        requests,
                        warmup,
                        caller=bench.publisher,
                        per_request=BATCH_SIZE,
                    )
                )
    settled = Summary.of(results["settled"], BATCH_SIZE)
    default = Summary.of(results["default"], BATCH_SIZE)
    ratio = _ratio(settled.rate, default.rate)
    return [
        Row(
            "collector",
            f"batches, gc.freeze + young threshold vs CPython defaults, c={bench.concurrency}",
            f"{settled.rate:,.0f} rec/s",
            f"{default.rate:,.0f} rec/s defaults",
            ratio,
            settled.latency,
            default.latency,
            "≥1.10 to stay",
            ratio is not None and ratio >= 1.10,
        )
    ]


def measure_read(bench: Bench) -> list[Row]:
    """Read by id with a purpose, another agency reading: serial and concurrent."""
    rng = random.Random(bench.options.seed)
    headers = (("Exchange-Purpose", PURPOSE),)
    seeded: dict[str, list[str]] = {}
    results: list[dict[str, list[LoadResult]]] = [
        {name: [] for name, _ in bench.versions} for _ in range(2)
    ]

    def reads(ids: list[str], count: int) -> list[Request]:
        return [
            Request("GET", f"{RECORDS_PATH}/{rng.choice(ids)}", None, headers) for _ in range(count)
        ]

    for number, versions in bench.rounds():
        for name, instance in versions:
            reader = instance.callers["bench-npa"]
            with bench.exchange(f"read-{name}-{number}", instance) as server:
                if name not in seeded:
                    # The same records in every version's store.
                    maker = bench.maker(instance, seed=400)
                    stored = [maker.submission(open_audience=True) for _ in range(5 * BATCH_SIZE)]
                    bench.load(
                        f"read setup {name}",
                        server,
                        _posts(
                            [
                                json.dumps({"records": stored[i : i + BATCH_SIZE]}).encode()
                                for i in range(0, len(stored), BATCH_SIZE)
                            ]
                        ),
                        [],
                        caller=instance.callers["bench-isa"],
                        concurrency=1,
                    )
                    seeded[name] = [submission["record"]["id"] for submission in stored]
                ids = seeded[name]
                warmup = reads(ids, bench.counts.warmup * bench.concurrency)
                results[0][name].append(
                    bench.load(
                        f"read {name} c=1 round {number + 1}",
                        server,
                        reads(ids, bench.counts.read_serial),
                        warmup[:5],
                        caller=reader,
                        expected=200,
                        concurrency=1,
                    )
                )
                results[1][name].append(
                    bench.load(
                        f"read {name} c={bench.concurrency} round {number + 1}",
                        server,
                        reads(ids, bench.counts.read),
                        warmup,
                        caller=reader,
                        expected=200,
                    )
                )
    return [
        _latency_row("read", "by id + purpose, c=1", results[0]),
        _rate_row(bench, "read", f"by id + purpose, c={bench.concurrency}", "req/s", results[1]),
    ]


def measure_fill(bench: Bench) -> list[Row]:
    """Publish rate on the store as it is, then after bulk-filling N records."""
    count = bench.options.records_filled
    maker = bench.maker()
    before_count = _record_count(bench.instance)
    bodies, _ = maker.single_bodies(bench.counts.fill_publish)
    warm, _ = maker.single_bodies(bench.counts.warmup * bench.concurrency)
    with bench.exchange("fill-before") as server:
        empty = bench.load(
            f"publish at {before_count:,} records", server, _posts(bodies), _posts(warm)
        )
    _progress(f"  filling {count:,} records by bulk SQL ...")
    filled = fill_store(bench.instance, bench.publisher, count)
    _progress(f"  filled in {filled.seconds:.1f} s ({filled.rate:,.0f} records/s)")
    integrated, seconds = integrate_backlog(bench.instance)
    _progress(f"  their audit entries integrated: {integrated:,} in {seconds:.1f} s")
    bodies, _ = maker.single_bodies(bench.counts.fill_publish)
    warm, _ = maker.single_bodies(bench.counts.warmup * bench.concurrency)
    with bench.exchange("fill-after") as server:
        full = bench.load(
            f"publish at {filled.store_records:,} records", server, _posts(bodies), _posts(warm)
        )
    ratio = _ratio(full.rate, empty.rate)
    return [
        Row(
            "fill",
            f"bulk SQL fill of {count:,} records, {filled.rate:,.0f} rec/s",
            f"{filled.seconds:.1f} s",
        ),
        Row(
            "fill",
            f"publish c={bench.concurrency} at {filled.store_records:,} records",
            f"{full.rate:,.0f} req/s",
            f"{empty.rate:,.0f} req/s at {before_count:,}",
            ratio,
            _ms(full),
            _ms(empty),
            "≥0.80",
            ratio is not None and ratio >= 0.8,
        ),
    ]


def _record_count(instance: Instance) -> int:
    if instance.dialect == "postgresql":
        with instance.connect_postgres() as connection:
            row = connection.execute("SELECT COUNT(*) FROM record").fetchone()
            return int(row[0]) if row else 0
    import sqlite3

    database = sqlite3.connect(str(instance.sqlite_path))
    try:
        return int(database.execute("SELECT COUNT(*) FROM record").fetchone()[0])
    finally:
        database.close()


def measure_scaling(bench: Bench) -> list[Row]:
    """The same publish load on one server process and on two, per database, alternating."""
    rows = []
    concurrency = 2 * bench.concurrency
    for dialect, instance, note in _scaling_instances(bench):
        if instance is None:
            rows.append(Row("scaling", f"{dialect}: 2 processes vs 1", "skipped", note))
            continue
        results: dict[int, list[LoadResult]] = {1: [], 2: []}
        try:
            for number in range(bench.options.rounds):
                for processes in (1, 2) if number % 2 == 0 else (2, 1):
                    maker = bench.maker(instance)
                    bodies, _ = maker.single_bodies(bench.counts.scaling)
                    warm, _ = maker.single_bodies(bench.counts.warmup * concurrency)
                    with bench.exchange(
                        f"scaling-{dialect}-{processes}-{number}", instance, processes
                    ) as server:
                        results[processes].append(
                            bench.load(
                                f"scaling {dialect} {processes} process(es) round {number + 1}",
                                server,
                                _posts(bodies),
                                _posts(warm),
                                caller=instance.callers["bench-isa"],
                                concurrency=concurrency,
                            )
                        )
        finally:
            if instance is not bench.instance:
                drop_instance(instance)
        one, two = Summary.of(results[1]), Summary.of(results[2])
        ratio = _ratio(two.rate, one.rate)
        # More processes, and more nodes, are how the exchange grows on PostgreSQL.
        target = f"≥{SCALING_TARGET:.2f}" if dialect == "postgresql" else ""
        rows.append(
            Row(
                "scaling",
                f"{dialect}: 2 processes vs 1, c={concurrency}",
                f"{two.rate:,.0f} req/s",
                f"{one.rate:,.0f} req/s 1 proc",
                ratio,
                two.latency,
                one.latency,
                target,
                (ratio is not None and ratio >= SCALING_TARGET) if target else None,
            )
        )
    return rows


def _scaling_instances(bench: Bench) -> Iterator[tuple[str, Instance | None, str]]:
    main = bench.instance
    yield main.dialect, main, ""
    if main.dialect == "postgresql":
        _progress("  setting up a SQLite instance for scaling ...")
        instance = create_instance(bench.root / "instance-sqlite", None)
        populate(instance)
        yield "sqlite", instance, ""
        return
    url = bench.options.postgres_url
    if not url:
        yield "postgresql", None, "no --postgres-url"
        return
    why = postgres_reachable(url)
    if why is not None:
        _progress(f"  PostgreSQL at {url} not reachable: {why}")
        yield "postgresql", None, "not reachable"
        return
    _progress("  setting up a PostgreSQL instance for scaling ...")
    instance = create_instance(bench.root / "instance-postgresql", url)
    populate(instance)
    yield "postgresql", instance, ""


MEASURE: dict[str, Callable[[Bench], list[Row]]] = {
    "publish": measure_publish,
    "batch": measure_batch,
    "read": measure_read,
    "collector": measure_collector,
    "fill": measure_fill,
    "scaling": measure_scaling,
    "audit": measure_audit,
    "feed": measure_feeds,
    "search": measure_search,
}


# The report ---------------------------------------------------------------------------


def render_table(rows: Sequence[Row]) -> str:
    headers = (
        "measurement",
        "what",
        "exchange",
        "baseline",
        "ratio",
        "p50/p95 ms",
        "base p50/p95",
        "target",
        "met",
    )
    cells: list[tuple[str, ...]] = []
    for row in rows:
        cells.append(
            (
                row.measurement,
                row.what,
                row.figure,
                row.baseline,
                _ratio_cell(row.ratio),
                row.latency,
                row.baseline_latency,
                row.target,
                "" if row.met is None else ("yes" if row.met else "NO"),
            )
        )
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for cell in cells:
        lines.append("  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)).rstrip())
    lines.append("")
    lines.append(
        "ratio: exchange / baseline (of rates; of p95 latencies where the figure is a p95)"
    )
    return "\n".join(lines)


def _ratio_cell(ratio: float | None) -> str:
    return "" if ratio is None else f"{ratio:.2f}"


def render_loads(loads: Sequence[LoadRecord]) -> str:
    """Each load: server CPU and the busiest client process in shares of one core, and how
    busy the whole machine was (all cores; 100% means nothing was left for anyone)."""
    lines = [
        f"{'load':40} {'ok':>6} {'failed':>7} {'s':>6} {'/s':>8} {'srv cpu':>8} "
        f"{'cli cpu':>8} {'host':>6}"
    ]
    for load in loads:
        lines.append(
            f"{load.label[:40]:40} {load.completed:>6} {load.failed:>7} {load.seconds:>6.1f} "
            f"{load.rate:>8,.0f} {load.server_cpu:>8.0%} {load.client_cpu:>8.0%} "
            f"{load.host_busy:>6.0%}"
        )
    return "\n".join(lines)


def render_profile(path: Path, limit: int = 25) -> str:
    """The top functions by own time and by cumulative time.

    Times are wall-clock in each worker thread: under concurrency they include waiting for
    the GIL and the database; ``--concurrency 1`` makes them close to CPU time.
    """
    if not path.exists():
        return f"{path}: no profile written"
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.sort_stats("tottime").print_stats(limit)
    stats.sort_stats("cumulative").print_stats(limit)
    return out.getvalue()


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="The exchange over real mutual TLS, each figure beside a baseline "
        "from the same run.",
    )
    parser.add_argument(
        "--database-url",
        help="postgresql://... to run on PostgreSQL (in a fresh schema, dropped after); "
        "default: a fresh SQLite file in a temporary instance folder",
    )
    parser.add_argument("--quick", action="store_true", help="small counts, for a fast check")
    parser.add_argument("--only", choices=MEASUREMENTS, action="append", help="run only NAME")
    parser.add_argument(
        "--records-filled",
        type=int,
        default=None,
        help="records added by bulk SQL for the large-store check (default 1,000,000; "
        f"{QUICK.records_filled:,} with --quick)",
    )
    parser.add_argument(
        "--search-records",
        type=int,
        default=None,
        help="records in the store the search is measured on, with names of their own "
        f"(default 1,000,000; {QUICK.search_records:,} with --quick)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("EXCHANGE_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="PostgreSQL for the scaling check of a SQLite run (skipped if unreachable; "
        "'' to skip)",
    )
    parser.add_argument(
        "--baseline-rev",
        default="HEAD",
        help="git revision whose exchange publish, batch and read are measured beside this "
        "one's, in the same run (default: HEAD, the last commit; '' for none)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="alternating rounds of each comparison; each figure is the median of its rounds",
    )
    parser.add_argument("--concurrency", type=int, default=8, help="client connections")
    parser.add_argument("--threads", type=int, default=16, help="server worker threads")
    parser.add_argument(
        "--client-processes", type=int, default=1, help="client processes sharing the connections"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="profile single-process exchange servers with cProfile into this folder "
        "(wall-clock per thread: use --concurrency 1 for a CPU breakdown)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the instance and database")
    parser.add_argument("--seed", type=int, default=20261125)
    options = parser.parse_args(argv)
    if options.records_filled is None:
        options.records_filled = (QUICK if options.quick else FULL).records_filled
    if options.search_records is None:
        options.search_records = (QUICK if options.quick else FULL).search_records
    if options.profile is not None:
        options.profile.mkdir(parents=True, exist_ok=True)
        options.profile = options.profile.resolve()
    return options


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_arguments(argv)
    counts = QUICK if options.quick else FULL
    selected = options.only or list(MEASUREMENTS)
    root = Path(tempfile.mkdtemp(prefix="exchange-bench-"))
    started = time.perf_counter()
    rows: list[Row] = []
    bench: Bench | None = None
    instance: Instance | None = None
    baseline: Instance | None = None
    revision = ""
    try:
        _progress(f"instance in {root}")
        instance = create_instance(root / "instance", options.database_url)
        populate(instance)
        if options.baseline_rev and set(selected) & set(AGAINST_REVISION):
            revision = describe_revision(options.baseline_rev)
            _progress(f"baseline revision: {revision}")
            code = export_revision(options.baseline_rev, root / "baseline-code")
            baseline = revision_instance(code, root / "instance-baseline", options.database_url)
        bench = Bench(options, counts, root, instance, baseline)
        for name in selected:
            _progress(f"[{name}]")
            rows.extend(MEASURE[name](bench))
    finally:
        for made in (instance, baseline):
            if made is not None and not options.keep:
                drop_instance(made)
        if not options.keep:
            shutil.rmtree(root, ignore_errors=True)
    assert bench is not None
    elapsed = time.perf_counter() - started
    database = instance.dialect if instance else "?"
    print(f"exchange benchmarks on {database}, {os.cpu_count()} cores, {elapsed:.0f} s")
    if revision:
        print(f"baseline revision: {revision}")
    print(render_table(rows))
    print()
    print(render_loads(bench.loads))
    for path in bench.profiles:
        print()
        print(render_profile(path))
    failed = sum(load.failed for load in bench.loads)
    if options.json is not None:
        options.json.write_text(
            json.dumps(
                {
                    "database": database,
                    "seconds": elapsed,
                    "baseline_revision": revision,
                    "rows": [asdict(row) for row in rows],
                    "loads": [asdict(load) for load in bench.loads],
                },
                indent=2,
                ensure_ascii=False,
            )
            + "\n"
        )
    if failed:
        print(f"\n{failed} request(s) failed: the figures above are not trustworthy")
        return 1
    return 0
