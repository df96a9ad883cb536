"""Audit exports: writing them, and verifying them offline."""

import io
import json
from collections.abc import Sequence

import pytest

from audit.checkpoint import Checkpoint
from audit.errors import (
    AuditError,
    ExportError,
    NoteError,
    SignatureError,
    UnknownKeyError,
)
from audit.export import write_export
from audit.merkle import inclusion_proof
from audit.note import NoteSigner, add_signatures
from audit.verify import ExportReport, verify_export
from tests.audit.sample_log import ENTRIES, LEAVES, LOG, WITNESSES, checkpoint, edit, export


def _verify(
    lines: Sequence[str | bytes], *, witness_keys: Sequence[str] = (), quorum: int = 0
) -> ExportReport:
    return verify_export(
        lines, log_key=LOG.verifier_key(), witness_keys=witness_keys, quorum=quorum
    )


class TestValid:
    def test_complete_without_proofs(self) -> None:
        report = verify_export(
            export(proofs=False),
            log_key=LOG.verifier_key(),
            witness_keys=[w.verifier_key() for w in WITNESSES],
            quorum=2,
        )
        assert (report.origin, report.size, report.complete) == (LOG.name, 40, True)
        assert report.entries_verified == 40
        assert report.cosigned_by == (WITNESSES[0].name, WITNESSES[1].name)

    def test_complete_with_proofs(self) -> None:
        assert _verify(export()).entries_verified == 40

    def test_filtered(self) -> None:
        report = _verify(export([0, 7, 8, 31, 39]))
        assert report.entries_verified == 5
        assert report.complete is False

    def test_bytes_lines_and_empty_filtered_export(self) -> None:
        lines = [line.encode() for line in export([])]
        assert _verify(lines).entries_verified == 0

    def test_empty_log(self) -> None:
        assert _verify(export(size=0, proofs=False)).size == 0


class TestEntriesThatFail:
    def _fails_at(self, lines: Sequence[str], index: int, match: str) -> None:
        with pytest.raises(ExportError, match=match) as caught:
            _verify(lines)
        assert caught.value.index == index
        assert f"index {index}" in str(caught.value)

    def test_modified_entry_in_filtered_export(self) -> None:
        lines = export([3, 17, 20])
        lines[2] = edit(lines[2], entry="bW9kaWZpZWQ=")
        self._fails_at(lines, 17, "does not match the checkpoint")

    def test_modified_entry_with_proofs_in_complete_export(self) -> None:
        lines = export()
        lines[18] = edit(lines[18], entry="bW9kaWZpZWQ=")
        self._fails_at(lines, 17, "does not match the checkpoint")

    def test_modified_entry_without_proofs(self) -> None:
        # Only the root is signed, so without proofs no single entry can be blamed.
        lines = export(proofs=False)
        lines[18] = edit(lines[18], entry="bW9kaWZpZWQ=")
        with pytest.raises(ExportError, match="0 to 39 do not match the checkpoint root"):
            _verify(lines)

    def test_removed_entry(self) -> None:
        lines = export(proofs=False)
        del lines[18]
        self._fails_at(lines, 17, "missing")

    def test_truncated_export(self) -> None:
        self._fails_at(export(proofs=False)[:-1], 39, "missing")

    def test_reordered_pair_in_complete_export(self) -> None:
        lines = export(proofs=False)
        lines[18], lines[19] = lines[19], lines[18]
        self._fails_at(lines, 17, "missing")

    def test_reordered_pair_in_filtered_export(self) -> None:
        lines = export([3, 17, 20])
        lines[2], lines[3] = lines[3], lines[2]
        self._fails_at(lines, 17, "out of order")

    def test_swapped_contents(self) -> None:
        lines = export([3, 17, 20])
        first, second = json.loads(lines[1]), json.loads(lines[2])
        lines[1] = edit(lines[1], entry=second["entry"])
        lines[2] = edit(lines[2], entry=first["entry"])
        self._fails_at(lines, 3, "does not match")

    def test_duplicate_entry(self) -> None:
        lines = export([3, 17, 20])
        lines.insert(2, lines[2])
        self._fails_at(lines, 17, "twice")

    def test_index_beyond_size(self) -> None:
        lines = export([3])
        lines.append(edit(lines[1], index=40))
        self._fails_at(lines, 40, "beyond the checkpoint size")

    def test_missing_proof_in_filtered_export(self) -> None:
        lines = export([3, 5])
        value = json.loads(lines[2])
        del value["proof"]
        lines[2] = json.dumps(value) + "\n"
        self._fails_at(lines, 5, "no inclusion proof")

    def test_proof_for_another_index(self) -> None:
        lines = export([3, 5])
        lines[2] = edit(lines[2], index=6)
        self._fails_at(lines, 6, "does not match")

    @pytest.mark.parametrize(
        "change",
        [{"entry": "not base64"}, {"proof": ["AAAA"]}, {"proof": "AAAA"}, {"entry": 5}],
    )
    def test_malformed_entry(self, change: dict[str, object]) -> None:
        lines = export([3, 5])
        lines[2] = edit(lines[2], **change)
        self._fails_at(lines, 5, "entry at index 5")


class TestCheckpointThatFails:
    def test_wrong_log_key(self) -> None:
        with pytest.raises(UnknownKeyError):
            verify_export(export(), log_key=NoteSigner.generate(LOG.name).verifier_key())

    def test_forged_checkpoint(self) -> None:
        forger = NoteSigner.generate(LOG.name)
        with pytest.raises(UnknownKeyError):
            _verify(export(note=checkpoint(40, signer=forger)))

    def test_altered_checkpoint(self) -> None:
        lines = export()
        header = json.loads(lines[0])
        header["checkpoint"] = header["checkpoint"].replace("\n40\n", "\n39\n")
        lines[0] = json.dumps(header) + "\n"
        with pytest.raises(SignatureError):
            _verify(lines)

    def test_header_size_differs(self) -> None:
        lines = export([3])
        lines[0] = edit(lines[0], size=41)
        with pytest.raises(ExportError, match="size"):
            _verify(lines)

    def test_witness_quorum(self) -> None:
        keys = [w.verifier_key() for w in WITNESSES]
        lines = export(note=checkpoint(40, witnesses=1))
        assert _verify(lines, witness_keys=keys, quorum=1).cosigned_by == (WITNESSES[0].name,)
        with pytest.raises(SignatureError, match="1 witnesses cosigned the checkpoint, 2"):
            _verify(lines, witness_keys=keys, quorum=2)

    def test_same_witness_twice_counts_once(self) -> None:
        key = WITNESSES[0].verifier_key()
        with pytest.raises(ExportError, match="quorum 2 with 1 distinct witness keys"):
            _verify(export(), witness_keys=[key, key], quorum=2)

    def test_bad_cosignature(self) -> None:
        witness = WITNESSES[2]
        note = checkpoint(40, witnesses=0)
        bad = witness.sign(Checkpoint(origin="x", size=1, root=bytes(32)).body(), timestamp=1)
        lines = export(note=add_signatures(note, [bad]))
        with pytest.raises(SignatureError):
            _verify(lines, witness_keys=[witness.verifier_key()], quorum=1)

    def test_witness_key_must_be_a_cosignature_key(self) -> None:
        with pytest.raises(NoteError):
            _verify(export(), witness_keys=[LOG.verifier_key()])

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
                checkpoint_note=checkpoint(2),
                size=2,
                entries=[(1, ENTRIES[1], None)],
                complete=True,
            )

    def test_refuses_filtered_entry_without_proof(self) -> None:
        with pytest.raises(ExportError):
            write_export(
                io.StringIO(),
                checkpoint_note=checkpoint(2),
                size=2,
                entries=[(1, ENTRIES[1], None)],
                complete=False,
            )

    def test_refuses_unordered_entries(self) -> None:
        proof = inclusion_proof(1, 2, LEAVES)
        with pytest.raises(ExportError):
            write_export(
                io.StringIO(),
                checkpoint_note=checkpoint(2),
                size=2,
                entries=[(1, ENTRIES[1], proof), (1, ENTRIES[1], proof)],
                complete=False,
            )


def test_every_failure_is_an_audit_error() -> None:
    with pytest.raises(AuditError):
        verify_export(["{}"], log_key="not a key")
