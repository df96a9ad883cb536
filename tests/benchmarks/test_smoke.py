"""The benchmark harness end to end, in its smallest mode: it runs, and reports everything.

No figure is checked: timings depend on the machine. What is checked is that every
measurement ran against real servers without a failed request and made it into the table,
that publish, batch and read were measured against both baselines, bare and floor, and
that the work a batch requires beyond the bare endpoint was timed piece by piece.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.harness import BASELINES, MEASUREMENTS

ROOT = Path(__file__).resolve().parents[2]
AGAINST_BASELINES = ("publish", "batch", "read")


def test_the_harness_runs_every_measurement(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--records-filled",
            "2000",
            "--search-records",
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
    assert set(reported["baselines"]) == {name for name, _, _ in BASELINES} == {"bare", "floor"}
    labels = [load["label"] for load in reported["loads"]]
    for name in AGAINST_BASELINES:
        # Indented rows detail the one above them, such as the work a batch requires.
        rows = [
            row
            for row in reported["rows"]
            if row["measurement"] == name and not row["what"].startswith(" ")
        ]
        assert rows
        for row in rows:
            assert row["baseline"].endswith(" bare") and row["ratio"] is not None, row
            assert row["floor"].endswith(" floor") and row["floor_ratio"] is not None, row
            assert row["baseline_latency"] and row["floor_latency"], row
        for server in ("exchange", "bare", "floor"):
            assert any(label.startswith(f"{name} {server}") for label in labels), labels
    required = [row["what"] for row in reported["rows"] if "required beyond it" in row["what"]]
    assert len(required) == 4, required
    assert any("ceiling" in row["what"] for row in reported["rows"])
    floor_lines = [line for line in result.stdout.splitlines() if " floor " in line]
    assert {line.split(" ", 1)[0] for line in floor_lines} >= set(AGAINST_BASELINES)
