"""Offline verification of an audit export against keys the auditor already trusts.

Nothing in the export is trusted until checked: the log key and the witness keys come from
the auditor, the checkpoint must carry the log's signature, and every entry must hash into
the checkpoint's root.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from audit._codec import SIG_COSIGNATURE, SIG_ED25519
from audit.checkpoint import Checkpoint
from audit.cosignature import verify_cosignature
from audit.errors import ExportError, NoteError, ProofError, SignatureError
from audit.export import ExportEntry, read_export
from audit.merkle import leaf_hash, verify_inclusion
from audit.note import Note, NoteVerifier, open_note
from audit.tree import CompactRange


@dataclass(frozen=True)
class ExportReport:
    """What a valid export showed: the signed tree head and how much of it was checked."""

    origin: str
    size: int
    root: bytes
    complete: bool
    entries_verified: int
    log_key: str
    cosigned_by: tuple[str, ...]


def _witnesses(witness_keys: Sequence[str], quorum: int) -> list[NoteVerifier]:
    witnesses: dict[bytes, NoteVerifier] = {}
    for key in witness_keys:
        verifier = NoteVerifier.from_verifier_key(key)
        if verifier.sig_type != SIG_COSIGNATURE:
            raise NoteError(f"witness key {verifier.name} is not a cosignature (0x04) key")
        # C2SP tlog-cosignature: the signed message does not name the cosigner, so one
        # public key listed twice (under any name) is one witness towards the quorum.
        witnesses.setdefault(verifier.public_key, verifier)
    if not 0 <= quorum <= len(witnesses):
        message = f"quorum {quorum} with {len(witnesses)} distinct witness keys given"
        raise ExportError(message)
    return list(witnesses.values())


def _cosigners(note: Note, witnesses: list[NoteVerifier], quorum: int) -> tuple[str, ...]:
    names = []
    for witness in witnesses:
        by_witness = [
            s for s in note.signatures if (s.name, s.key_id) == (witness.name, witness.key_id)
        ]
        for signature in by_witness:
            verify_cosignature(verifier_key=witness, checkpoint_body=note.text, signature=signature)
        if by_witness:
            names.append(witness.name)
    if len(names) < quorum:
        raise SignatureError(f"{len(names)} witnesses cosigned the checkpoint, {quorum} required")
    return tuple(names)


def _in_order(entries: Iterator[ExportEntry], size: int) -> Iterator[ExportEntry]:
    previous = -1
    for entry in entries:
        index = entry.index
        if index == previous:
            raise ExportError(f"entry at index {index} appears twice", index=index)
        if index < previous:
            raise ExportError(f"entry at index {index} is out of order", index=index)
        if index >= size:
            raise ExportError(
                f"entry at index {index} is beyond the checkpoint size {size}", index=index
            )
        previous = index
        yield entry


def _check_proof(entry: ExportEntry, hashed: bytes, checkpoint: Checkpoint) -> None:
    if entry.proof is None:
        raise ExportError(f"entry at index {entry.index} has no inclusion proof", index=entry.index)
    try:
        verify_inclusion(
            leaf_hash=hashed,
            index=entry.index,
            size=checkpoint.size,
            proof=entry.proof,
            root=checkpoint.root,
        )
    except ProofError:
        message = f"entry at index {entry.index} does not match the checkpoint"
        raise ExportError(message, index=entry.index) from None


def _every_leaf(entries: Iterator[ExportEntry], checkpoint: Checkpoint) -> Iterator[bytes]:
    for expected, entry in enumerate(entries):
        if entry.index != expected:
            message = f"entry at index {expected} is missing (next is index {entry.index})"
            raise ExportError(message, index=expected)
        hashed = leaf_hash(entry.entry)
        if entry.proof is not None:
            _check_proof(entry, hashed, checkpoint)
        yield hashed


def _check_complete(entries: Iterator[ExportEntry], checkpoint: Checkpoint) -> int:
    # Rebuilding the tree from every leaf proves them all at once; a proof that is present
    # anyway is checked too, which pins a mismatch on its entry.
    tree = CompactRange.empty()
    tree.extend(_every_leaf(entries, checkpoint))
    if tree.size != checkpoint.size:
        message = f"entry at index {tree.size} is missing (the export ends there)"
        raise ExportError(message, index=tree.size)
    if tree.root() != checkpoint.root:
        last = checkpoint.size - 1
        raise ExportError(f"entries at indexes 0 to {last} do not match the checkpoint root")
    return tree.size


def verify_export(
    lines: Iterable[bytes | str],
    *,
    log_key: str,
    witness_keys: Sequence[str] = (),
    quorum: int = 0,
) -> ExportReport:
    """Verify an export read line by line; raise the AuditError of the first failure."""
    log = NoteVerifier.from_verifier_key(log_key)
    if log.sig_type != SIG_ED25519:
        raise NoteError("the log key must be an Ed25519 note (0x01) key")
    witnesses = _witnesses(witness_keys, quorum)
    header, entries = read_export(lines)
    note = open_note(header.checkpoint, verifiers=[log])
    checkpoint = Checkpoint.parse(note.text)
    if checkpoint.size != header.size:
        message = f"the header says size {header.size}, the checkpoint {checkpoint.size}"
        raise ExportError(message)
    cosigned_by = _cosigners(note, witnesses, quorum)
    ordered = _in_order(entries, checkpoint.size)
    if header.complete:
        verified = _check_complete(ordered, checkpoint)
    else:
        verified = 0
        for entry in ordered:
            _check_proof(entry, leaf_hash(entry.entry), checkpoint)
            verified += 1
    return ExportReport(
        origin=checkpoint.origin,
        size=checkpoint.size,
        root=checkpoint.root,
        complete=header.complete,
        entries_verified=verified,
        log_key=log.verifier_key(),
        cosigned_by=cosigned_by,
    )
