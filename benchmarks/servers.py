"""Server subprocesses: ``exchange serve``, of this version or of another revision.

Each is started with the instance's environment, waited for until every one of its
processes announced its listener and the port accepts, accounted for CPU time from
``/proc``, and stopped with SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.instance import Instance

READY_TIMEOUT = 90.0
STOP_TIMEOUT = 15.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces.
    return text[text.rindex(")") + 2 :].split()


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, ()))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User plus system time of the processes, from /proc (0 for those gone)."""
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])
    return total / _CLOCK_TICKS


@dataclass
class ServerProcess:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    expected: int = 1
    pids: list[int] = field(default_factory=list)
    # The web UI's listener, for servers that have one.
    ui_port: int | None = None

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pids)

    @property
    def workers(self) -> list[int]:
        """The processes that serve: the children of a multi-process parent, or itself."""
        return self.pids[1:] if self.expected > 1 else self.pids[:1]

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self, marker: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            announced = self.log.read_text(errors="replace").count(marker)
            if announced >= self.expected and _accepts(self.port):
                self.pids = _descendants(self.process.pid)
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {READY_TIMEOUT:.0f}s:\n{self.log_tail()}")

    def stop(self) -> None:
        pids = self.pids or _descendants(self.process.pid)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
        for pid in pids[1:]:
            # Children of a multi-process server that outlived their parent.
            if _stat(pid) is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _start(
    name: str,
    arguments: list[str],
    instance: Instance,
    port: int,
    *,
    expected: int = 1,
    environment: dict[str, str] | None = None,
) -> ServerProcess:
    log = instance.root / "logs" / f"{name}-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as output:
        process = subprocess.Popen(
            arguments,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**instance.environment(), **(environment or {})},
            cwd=str(instance.root),
        )
    return ServerProcess(name, process, port, log, expected)


# ``exchange serve`` with the collector left as CPython sets it.
_DEFAULT_COLLECTOR = (
    "import exchange.cli.server as server; server.settle_collector = lambda: None; "
    "from exchange.cli import main; main()"
)

# A port found free may be taken before the server binds it (by another process, or a
# client connection's ephemeral port): the server is then started again on new ports.
START_ATTEMPTS = 3
# What a single server process, and a multi-process one, say when the port is taken.
_PORT_TAKEN = ("another program is using it", "another server is already listening there")


def _ready(
    start: Callable[[], ServerProcess], marker: str, attempts: int = START_ATTEMPTS
) -> ServerProcess:
    """A server from ``start`` that announced ``marker``; started again if its port was taken."""
    for attempt in range(1, attempts + 1):
        server = start()
        try:
            server.wait_ready(marker)
            return server
        except RuntimeError as error:
            server.stop()
            if not any(taken in str(error) for taken in _PORT_TAKEN) or attempt == attempts:
                raise
    raise AssertionError("unreachable")


@contextlib.contextmanager
def exchange_server(
    instance: Instance,
    *,
    threads: int,
    processes: int = 1,
    profile: Path | None = None,
    time_audit: Path | None = None,
    environment: dict[str, str] | None = None,
    settled_collector: bool = True,
) -> Iterator[ServerProcess]:
    """``exchange serve`` (or the profiling or timing wrapper) on a free port, for the block.

    ``settled_collector=False`` serves with CPython's garbage-collector defaults, to measure
    what ``exchange.serving.settle_collector`` is worth (one process only).
    """

    def start() -> ServerProcess:
        port, ui_port = free_port(), free_port()
        if profile is not None or time_audit is not None:
            arguments = [sys.executable, "-m", "benchmarks.serve"]
            if profile is not None:
                arguments += ["--profile", str(profile)]
            if time_audit is not None:
                arguments += ["--time-audit", str(time_audit)]
        elif not settled_collector:
            arguments = [sys.executable, "-c", _DEFAULT_COLLECTOR, "serve"]
        else:
            arguments = [sys.executable, "-m", "exchange", "serve"]
        arguments += ["--api-port", str(port), "--ui-port", str(ui_port)]
        arguments += ["--threads", str(threads)]
        if processes > 1:
            arguments += ["--processes", str(processes)]
        # The operations listener too gets a free port (through the environment, which a
        # revision without that listener ignores).
        server = _start(
            "exchange",
            arguments,
            instance,
            port,
            expected=processes,
            environment={"EXCHANGE_OPS_PORT": str(free_port()), **(environment or {})},
        )
        server.ui_port = ui_port
        return server

    server = _ready(start, "API (mutual TLS)")
    try:
        yield server
    finally:
        server.stop()
