"""The benchmark harness end to end, in its smallest mode: it runs, and reports everything.

No figure is checked: timings depend on the machine. What is checked is that every
measurement ran against real servers without a failed request and made it into the table.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.harness import MEASUREMENTS

ROOT = Path(__file__).resolve().parents[2]


def test_the_harness_runs_every_measurement(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--records-filled",
            "2000",
            "--json",
            str(tmp_path / "results.json"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    first_columns = {line.split(" ", 1)[0] for line in result.stdout.splitlines() if line}
    for name in MEASUREMENTS:
        assert name in first_columns, f"{name} missing from:\n{result.stdout}"
    reported = json.loads((tmp_path / "results.json").read_text())
    assert {row["measurement"] for row in reported["rows"]} == set(MEASUREMENTS)
    assert all(load["failed"] == 0 for load in reported["loads"])
