"""``exchange`` commands as processes of their own, with their output in a file."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(instance: Path, app: Flask, **settings: str) -> dict[str, str]:
    """What an ``exchange`` process needs to run ``app``'s exchange from ``instance``."""
    return dict(
        os.environ,
        EXCHANGE_INSTANCE_PATH=str(instance),
        EXCHANGE_DATABASE_URL=str(app.config["EXCHANGE_DATABASE_URL"]),
        EXCHANGE_KEY_PASSPHRASE=str(app.config["EXCHANGE_KEY_PASSPHRASE"]),
        PYTHONPATH=str(ROOT),
        **settings,
    )


class ExchangeProcess:
    """``python -m exchange <arguments>``; ``stop`` ends it and any children it left."""

    def __init__(self, name: str, arguments: list[str], env: Mapping[str, str], logs: Path) -> None:
        logs.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log = logs / f"{name}.log"
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "exchange", *arguments],
                env=dict(env),
                cwd=str(ROOT),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, pattern: str, *, count: int = 1, seconds: float = 60) -> list[str]:
        """The first ``count`` matches of ``pattern`` in the output, once there are as many."""
        deadline = time.monotonic() + seconds
        while True:
            found = re.findall(pattern, self.output())
            if len(found) >= count:
                return found
            assert self.process.poll() is None, f"{self.name} exited:\n{self.output()[-3000:]}"
            assert time.monotonic() < deadline, f"{self.name}: no {pattern!r}:\n{self.output()}"
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no clean-up, as a crash or the OOM killer would end it."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        # Children of ``serve --processes`` are in the process's own session.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
