"""Benchmark servers come up on another port when the one found free was taken meanwhile."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks import servers
from benchmarks.instance import create_instance, drop_instance


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def test_a_taken_port_is_replaced(
    tmp_path: Path, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = create_instance(tmp_path / "instance", None)
    ports = iter([taken_port])
    real_free_port = servers.free_port
    monkeypatch.setattr(servers, "free_port", lambda: next(ports, None) or real_free_port())
    try:
        with servers.exchange_server(instance, threads=2) as server:
            assert server.port != taken_port
            assert server.process.poll() is None
        logs = sorted(path.name for path in (instance.root / "logs").iterdir())
        assert f"exchange-{taken_port}.log" in logs and f"exchange-{server.port}.log" in logs
    finally:
        drop_instance(instance)
