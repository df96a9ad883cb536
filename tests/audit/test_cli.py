"""The ``python -m audit verify`` command."""

import subprocess
import sys
from pathlib import Path

from tests.audit.sample_log import LOG, WITNESSES, edit, export

REPO = Path(__file__).resolve().parents[2]


class TestCommandLine:
    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "audit", *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )

    def test_valid_export(self, tmp_path: Path) -> None:
        path = tmp_path / "export.jsonl"
        path.write_text("".join(export(proofs=False)), encoding="utf-8")
        witness_args = [arg for w in WITNESSES for arg in ("--witness", w.verifier_key())]
        result = self._run(
            "verify", str(path), "--key", LOG.verifier_key(), *witness_args, "--quorum", "2"
        )
        assert result.returncode == 0, result.stderr
        assert "export verified" in result.stdout
        assert "40 verified (complete export)" in result.stdout

    def test_invalid_export(self, tmp_path: Path) -> None:
        lines = export([3, 17, 20])
        lines[2] = edit(lines[2], entry="bW9kaWZpZWQ=")
        path = tmp_path / "export.jsonl"
        path.write_text("".join(lines), encoding="utf-8")
        result = self._run("verify", str(path), "--key", LOG.verifier_key())
        assert result.returncode == 1
        assert "entry at index 17 does not match the checkpoint" in result.stderr
        assert "export_invalid" in result.stderr

    def test_missing_file(self, tmp_path: Path) -> None:
        result = self._run("verify", str(tmp_path / "absent"), "--key", LOG.verifier_key())
        assert result.returncode == 1
        assert "cannot read" in result.stderr
