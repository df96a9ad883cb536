"""``exchange serve --processes 2``: one operations listener, metrics summed over both."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.isolated import isolated_app


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for each in sockets:
            each.bind(("127.0.0.1", 0))
        return [each.getsockname()[1] for each in sockets]
    finally:
        for each in sockets:
            each.close()


def plain() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def wait_for(check: object, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except requests.RequestException:
            pass
        time.sleep(0.25)
    raise AssertionError(f"{what} did not come up")


def test_metrics_are_summed_over_the_server_processes(tmp_path: Path) -> None:
    with isolated_app(tmp_path) as app:
        api_port, ui_port, ops_port = free_ports(3)
        environment = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("EXCHANGE_", "PROMETHEUS_"))
        }
        environment.update(
            EXCHANGE_INSTANCE_PATH=str(tmp_path),
            EXCHANGE_DATABASE_URL=str(app.config["EXCHANGE_DATABASE_URL"]),
            EXCHANGE_KEY_PASSPHRASE="test passphrase",
            EXCHANGE_LOG_LEVEL="WARNING",
        )
        output = (tmp_path / "serve.log").open("wb")
        parent = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exchange",
                "serve",
                "--processes",
                "2",
                "--threads",
                "4",
                "--api-port",
                str(api_port),
                "--ui-port",
                str(ui_port),
                "--ops-port",
                str(ops_port),
            ],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        ca = str(tmp_path / "keys" / "ca.pem")
        ca_url = f"https://127.0.0.1:{ui_port}/pki/ca.pem"
        ops = f"http://127.0.0.1:{ops_port}"
        try:
            wait_for(lambda: plain().get(f"{ops}/healthz", timeout=5).ok, "the listener")
            served = 0

            def one_request() -> bool:
                nonlocal served
                # A connection each, so the kernel spreads them over both processes.
                response = plain().get(ca_url, verify=ca, timeout=10)
                served += response.ok
                return response.ok

            def writers() -> set[str]:
                """The server processes that wrote metrics, by process id."""
                return {
                    match.group(1)
                    for path in (tmp_path / "metrics").iterdir()
                    if (match := re.fullmatch(r"(?:counter|histogram)_(\d+)\.db", path.name))
                }

            wait_for(one_request, "the servers")
            for _ in range(40):
                assert one_request()
            # The second process may listen a moment after the first: ask until both answered.
            wait_for(lambda: one_request() and len(writers()) == 2, "both server processes")

            scraped = plain().get(f"{ops}/metrics", timeout=30)
            assert scraped.status_code == 200, scraped.text
            counted = sum(
                sample.value
                for family in text_string_to_metric_families(scraped.text)
                for sample in family.samples
                if sample.name == "exchange_http_requests_total"
                and sample.labels["route"] == "/pki/ca.pem"
                and sample.labels["status"] == "200"
            )
            assert counted == served
            assert "exchange_database_up 1.0" in scraped.text

            assert len(writers()) == 2
        finally:
            parent.send_signal(signal.SIGTERM)
            try:
                parent.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(parent.pid, signal.SIGKILL)
                parent.wait()
            output.close()
        assert parent.returncode == 0, (tmp_path / "serve.log").read_text()
