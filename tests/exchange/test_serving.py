"""The serving process's own settings, and the ports its processes share."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from flask.testing import FlaskCliRunner

from tests.exchange.processes import ExchangeProcess, environment, free_port
from tests.isolated import isolated_app

PROBE = """
import gc, sys
from exchange import create_app
from exchange.serving import settle_collector

create_app({"EXCHANGE_INSTANCE_PATH": sys.argv[1]})
settle_collector()
print(gc.get_threshold()[0], gc.get_freeze_count() > 10_000)
"""


def test_the_server_freezes_what_start_up_built_and_collects_young_objects_less_often(
    tmp_path: Path,
) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    threshold, frozen = completed.stdout.split()
    assert int(threshold) > 700
    assert frozen == "True"


class TestServerProcesses:
    def test_a_second_exchange_is_refused_the_ports_of_a_running_one(self, tmp_path: Path) -> None:
        with isolated_app(tmp_path / "instance") as app:
            env = environment(
                Path(app.instance_path), app, EXCHANGE_INTEGRATOR="off", EXCHANGE_PUSH="off"
            )
            ports = ["--api-port", str(free_port()), "--ui-port", str(free_port())]
            serve = ["serve", "--processes", "2", *ports, "--ops-port", "0"]
            first = ExchangeProcess("first", serve, env, tmp_path / "logs")
            try:
                first.wait_for(r"API \(mutual TLS\)", count=2)
                second = subprocess.run(
                    [sys.executable, "-m", "exchange", *serve],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=False,
                )
                assert second.returncode != 0
                assert (
                    f"error: cannot listen on 127.0.0.1 port {ports[1]}: another server"
                    in second.stderr
                )
                assert "API (mutual TLS)" not in second.stdout
                assert first.process.poll() is None
            finally:
                first.stop()

    def test_any_listener_on_a_port_refuses_the_start(self, runner: FlaskCliRunner) -> None:
        with socket.socket() as other:
            other.bind(("127.0.0.1", 0))
            other.listen()
            taken = other.getsockname()[1]
            result = runner.invoke(
                args=[
                    "serve",
                    "--processes",
                    "2",
                    "--ops-port",
                    "0",
                    "--api-port",
                    str(free_port()),
                    "--ui-port",
                    str(taken),
                ]
            )
        assert result.exit_code == 1
        assert f"error: cannot listen on 127.0.0.1 port {taken}: another server" in result.output
