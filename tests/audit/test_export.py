"""Audit exports: writing, offline verification, and the ``python -m audit`` command."""

import io
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from audit.checkpoint import Checkpoint
from audit.cosignature import CosignatureSigner
from audit.errors import (
    AuditError,
    ExportError,
    NoteError,
    SignatureError,
    UnknownKeyError,
)
from audit.export import write_export
from audit.merkle import inclusion_proof, leaf_hash
from audit.note import NoteSigner, add_signatures, sign_note
from audit.tree import CompactRange
from audit.verify import verify_export

REPO = Path(__file__).resolve().parents[2]
ENTRIES = [json.dumps({"seq": i, "event": "record.read"}).encode() for i in range(40)]
LEAVES = [leaf_hash(entry) for entry in ENTRIES]
LOG = NoteSigner.generate("exchange.example/audit")
WITNESSES = [CosignatureSigner.generate(f"agency{i}.example/witness") for i in range(3)]


def _checkpoint(size: int, *, signer: NoteSigner = LOG, witnesses: int = 2) -> bytes:
    tree = CompactRange.empty()
    for leaf in LEAVES[:size]:
        tree.append(leaf)
    body = Checkpoint(origin=LOG.name, size=size, root=tree.root()).body()
    cosignatures = [w.sign(body, timestamp=1_700_000_000) for w in WITNESSES[:witnesses]]
    return add_signatures(sign_note(body, signers=[signer]), cosignatures)


def _export(
    indexes: Sequence[int] | None = None, *, size: int = 40, proofs: bool = True, **kwargs: bytes
) -> list[str]:
    complete = indexes is None
    chosen = range(size) if indexes is None else indexes
    entries = [
        (i, ENTRIES[i], inclusion_proof(i, size, LEAVES) if proofs else None) for i in chosen
    ]
    stream = io.StringIO()
    note = kwargs.get("note", _checkpoint(size))
    write_export(stream, checkpoint_note=note, size=size, entries=entries, complete=complete)
    return stream.getvalue().splitlines(keepends=True)


def _verify(lines: Sequence[str | bytes], **kwargs: object) -> object:
    return verify_export(lines, log_key=LOG.verifier_key(), **kwargs)  # type: ignore[arg-type]


def _edit(line: str, **changes: object) -> str:
    value = json.loads(line)
    value.update(changes)
    return json.dumps(value) + "\n"


class TestValid:
    def test_complete_without_proofs(self) -> None:
        report = verify_export(
            _export(proofs=False),
            log_key=LOG.verifier_key(),
            witness_keys=[w.verifier_key() for w in WITNESSES],
            quorum=2,
        )
        assert (report.origin, report.size, report.complete) == (LOG.name, 40, True)
        assert report.entries_verified == 40
        assert report.cosigned_by == (WITNESSES[0].name, WITNESSES[1].name)

    def test_complete_with_proofs(self) -> None:
        assert _verify(_export()).entries_verified == 40  # type: ignore[attr-defined]

    def test_filtered(self) -> None:
        report = _verify(_export([0, 7, 8, 31, 39]))
        assert report.entries_verified == 5  # type: ignore[attr-defined]
        assert report.complete is False  # type: ignore[attr-defined]

    def test_bytes_lines_and_empty_filtered_export(self) -> None:
        lines = [line.encode() for line in _export([])]
        assert _verify(lines).entries_verified == 0  # type: ignore[attr-defined]

    def test_empty_log(self) -> None:
        assert _verify(_export(size=0, proofs=False)).size == 0  # type: ignore[attr-defined]


class TestEntriesThatFail:
    def _fails_at(self, lines: Sequence[str], index: int, match: str) -> None:
        with pytest.raises(ExportError, match=match) as caught:
            _verify(lines)
        assert caught.value.index == index
        assert f"index {index}" in str(caught.value)

    def test_modified_entry_in_filtered_export(self) -> None:
        lines = _export([3, 17, 20])
        lines[2] = _edit(lines[2], entry="bW9kaWZpZWQ=")
        self._fails_at(lines, 17, "does not match the checkpoint")

    def test_modified_entry_with_proofs_in_complete_export(self) -> None:
        lines = _export()
        lines[18] = _edit(lines[18], entry="bW9kaWZpZWQ=")
        self._fails_at(lines, 17, "does not match the checkpoint")

    def test_modified_entry_without_proofs(self) -> None:
        # Only the root is signed, so without proofs no single entry can be blamed.
        lines = _export(proofs=False)
        lines[18] = _edit(lines[18], entry="bW9kaWZpZWQ=")
        with pytest.raises(ExportError, match="0 to 39 do not match the checkpoint root"):
            _verify(lines)

    def test_removed_entry(self) -> None:
        lines = _export(proofs=False)
        del lines[18]
        self._fails_at(lines, 17, "missing")

    def test_truncated_export(self) -> None:
        self._fails_at(_export(proofs=False)[:-1], 39, "missing")

    def test_reordered_pair_in_complete_export(self) -> None:
        lines = _export(proofs=False)
        lines[18], lines[19] = lines[19], lines[18]
        self._fails_at(lines, 17, "missing")

    def test_reordered_pair_in_filtered_export(self) -> None:
        lines = _export([3, 17, 20])
        lines[2], lines[3] = lines[3], lines[2]
        self._fails_at(lines, 17, "out of order")

    def test_swapped_contents(self) -> None:
        lines = _export([3, 17, 20])
        first, second = json.loads(lines[1]), json.loads(lines[2])
        lines[1] = _edit(lines[1], entry=second["entry"])
        lines[2] = _edit(lines[2], entry=first["entry"])
        self._fails_at(lines, 3, "does not match")

    def test_duplicate_entry(self) -> None:
        lines = _export([3, 17, 20])
        lines.insert(2, lines[2])
        self._fails_at(lines, 17, "twice")

    def test_index_beyond_size(self) -> None:
        lines = _export([3])
        lines.append(_edit(lines[1], index=40))
        self._fails_at(lines, 40, "beyond the checkpoint size")

    def test_missing_proof_in_filtered_export(self) -> None:
        lines = _export([3, 5])
        value = json.loads(lines[2])
        del value["proof"]
        lines[2] = json.dumps(value) + "\n"
        self._fails_at(lines, 5, "no inclusion proof")

    def test_proof_for_another_index(self) -> None:
        lines = _export([3, 5])
        lines[2] = _edit(lines[2], index=6)
        self._fails_at(lines, 6, "does not match")

    @pytest.mark.parametrize(
        "change",
        [{"entry": "not base64"}, {"proof": ["AAAA"]}, {"proof": "AAAA"}, {"entry": 5}],
    )
    def test_malformed_entry(self, change: dict[str, object]) -> None:
        lines = _export([3, 5])
        lines[2] = _edit(lines[2], **change)
        self._fails_at(lines, 5, "entry at index 5")


class TestCheckpointThatFails:
    def test_wrong_log_key(self) -> None:
        with pytest.raises(UnknownKeyError):
            verify_export(_export(), log_key=NoteSigner.generate(LOG.name).verifier_key())

    def test_forged_checkpoint(self) -> None:
        forger = NoteSigner.generate(LOG.name)
        with pytest.raises(UnknownKeyError):
            _verify(_export(note=_checkpoint(40, signer=forger)))

    def test_altered_checkpoint(self) -> None:
        lines = _export()
        header = json.loads(lines[0])
        header["checkpoint"] = header["checkpoint"].replace("\n40\n", "\n39\n")
        lines[0] = json.dumps(header) + "\n"
        with pytest.raises(SignatureError):
            _verify(lines)

    def test_header_size_differs(self) -> None:
        lines = _export([3])
        lines[0] = _edit(lines[0], size=41)
        with pytest.raises(ExportError, match="size"):
            _verify(lines)

    def test_witness_quorum(self) -> None:
        keys = [w.verifier_key() for w in WITNESSES]
        lines = _export(note=_checkpoint(40, witnesses=1))
        assert _verify(lines, witness_keys=keys, quorum=1).cosigned_by == (  # type: ignore[attr-defined]
            WITNESSES[0].name,
        )
        with pytest.raises(SignatureError, match="1 witnesses cosigned the checkpoint, 2"):
            _verify(lines, witness_keys=keys, quorum=2)

    def test_same_witness_twice_counts_once(self) -> None:
        key = WITNESSES[0].verifier_key()
        with pytest.raises(ExportError, match="quorum of 2 from 1"):
            _verify(_export(), witness_keys=[key, key], quorum=2)

    def test_bad_cosignature(self) -> None:
        witness = WITNESSES[2]
        note = _checkpoint(40, witnesses=0)
        bad = witness.sign(Checkpoint(origin="x", size=1, root=bytes(32)).body(), timestamp=1)
        lines = _export(note=add_signatures(note, [bad]))
        with pytest.raises(SignatureError):
            _verify(lines, witness_keys=[witness.verifier_key()], quorum=1)

    def test_witness_key_must_be_a_cosignature_key(self) -> None:
        with pytest.raises(NoteError):
            _verify(_export(), witness_keys=[LOG.verifier_key()])

    @pytest.mark.parametrize(
        "header",
        [
            "",
            "[]",
            '{"format": "something-else/1"}',
            '{"format": "exchange-audit-export/1", "checkpoint": "x", "size": 1}',
            '{"format": "exchange-audit-export/1", "checkpoint": "x", "size": true,'
            ' "complete": true}',
            '{"format": "exchange-audit-export/1", "format": "exchange-audit-export/1",'
            ' "checkpoint": "x", "size": 1, "complete": true}',
        ],
    )
    def test_malformed_header(self, header: str) -> None:
        with pytest.raises(ExportError):
            _verify([header + "\n"])

    def test_empty_export(self) -> None:
        with pytest.raises(ExportError, match="empty"):
            _verify([])


class TestWriter:
    def test_refuses_gaps_in_complete_export(self) -> None:
        with pytest.raises(ExportError):
            write_export(
                io.StringIO(),
                checkpoint_note=_checkpoint(2),
                size=2,
                entries=[(1, ENTRIES[1], None)],
                complete=True,
            )

    def test_refuses_filtered_entry_without_proof(self) -> None:
        with pytest.raises(ExportError):
            write_export(
                io.StringIO(),
                checkpoint_note=_checkpoint(2),
                size=2,
                entries=[(1, ENTRIES[1], None)],
                complete=False,
            )

    def test_refuses_unordered_entries(self) -> None:
        proof = inclusion_proof(1, 2, LEAVES)
        with pytest.raises(ExportError):
            write_export(
                io.StringIO(),
                checkpoint_note=_checkpoint(2),
                size=2,
                entries=[(1, ENTRIES[1], proof), (1, ENTRIES[1], proof)],
                complete=False,
            )


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
        path.write_text("".join(_export(proofs=False)), encoding="utf-8")
        witness_args = [arg for w in WITNESSES for arg in ("--witness", w.verifier_key())]
        result = self._run(
            "verify", str(path), "--key", LOG.verifier_key(), *witness_args, "--quorum", "2"
        )
        assert result.returncode == 0, result.stderr
        assert "export verified" in result.stdout
        assert "40 verified (complete export)" in result.stdout

    def test_invalid_export(self, tmp_path: Path) -> None:
        lines = _export([3, 17, 20])
        lines[2] = _edit(lines[2], entry="bW9kaWZpZWQ=")
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


def test_every_failure_is_an_audit_error() -> None:
    with pytest.raises(AuditError):
        verify_export(["{}"], log_key="not a key")
