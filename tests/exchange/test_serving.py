"""The serving process's own settings, checked in a process of their own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
