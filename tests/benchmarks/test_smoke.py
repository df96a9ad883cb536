"""The benchmark harness end to end, in its smallest mode: it runs, and reports everything.

No figure is checked: timings depend on the machine. What is checked is that every
measurement ran against real servers without a failed request and made it into the table,
and that publish, batch and read were measured on this version and on the baseline
revision (here the last commit, exported and served from its own files), round by round.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.harness import AGAINST_REVISION, BASELINE, MEASUREMENTS, THIS

ROOT = Path(__file__).resolve().parents[2]


def test_the_harness_runs_every_measurement(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--baseline-rev",
            "HEAD",
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
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    first_columns = {line.split(" ", 1)[0] for line in result.stdout.splitlines() if line}
    for name in MEASUREMENTS:
        assert name in first_columns, f"{name} missing from:\n{result.stdout}"
    reported = json.loads((tmp_path / "results.json").read_text())
    assert {row["measurement"] for row in reported["rows"]} == set(MEASUREMENTS)
    assert all(load["failed"] == 0 for load in reported["loads"])
    assert reported["baseline_revision"]
    labels = [load["label"] for load in reported["loads"]]
    for name in AGAINST_REVISION:
        rows = [row for row in reported["rows"] if row["measurement"] == name]
        assert rows
        for row in rows:
            assert row["baseline"] and row["ratio"] is not None, row
            assert row["baseline_latency"] and row["met"] is not None, row
        for version in (THIS, BASELINE):
            for round_number in (1, 2):
                assert any(
                    label.startswith(f"{name} {version}")
                    and label.endswith(f"round {round_number}")
                    for label in labels
                ), labels
