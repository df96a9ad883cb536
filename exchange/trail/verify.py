"""``exchange audit verify``: re-derive every leaf and root from the stored entries.

Trust comes from the signed checkpoints alone. Each entry's stored bytes are hashed
again (RFC 9162 leaf hash), the tree is rebuilt in leaf order and its root compared with
every checkpoint; the columns auditors query are compared with the bytes they repeat.
When a root does not match, the stored leaf hashes of that stretch are first proven
against the signed root, then used to name the first entry that was modified, deleted,
inserted or moved. Entries that never got a leaf, though later ones did, are named too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from audit.checkpoint import Checkpoint
from audit.errors import AuditError
from audit.merkle import leaf_hash
from audit.note import NoteVerifier, open_note
from audit.tree import CompactRange, NodeID
from exchange.clock import parse_rfc3339, utcnow
from exchange.trail.models import AuditCheckpoint, AuditEntry, AuditLeaf, AuditTarget
from exchange.trail.service import entry_targets, leaf_projection
from exchange.trail.tree import integrated_size, stored_hashes

_entry = AuditEntry.__table__
_leaf = AuditLeaf.__table__
_checkpoint = AuditCheckpoint.__table__

_LOOKAHEAD = 4096

_DERIVED = (
    "recorded_at",
    "action",
    "outcome",
    "status",
    "actor_agency",
    "actor_system",
    "actor_fingerprint",
    "purpose",
)
_COLUMNS = (
    _leaf.c.leaf_index,
    _leaf.c.entry_seq,
    *(_leaf.c[name] for name in _DERIVED),
    _entry.c.seq,
    _entry.c.id,
    _entry.c.canonical,
)


@dataclass(frozen=True)
class Finding:
    kind: str  # modified | deleted | inserted | moved | checkpoint | unsequenced
    index: int | None
    seq: int | None
    detail: str

    def __str__(self) -> str:
        where = [f"leaf {self.index}"] if self.index is not None else []
        where += [f"entry seq {self.seq}"] if self.seq is not None else []
        return f"{self.kind}: {', '.join(where)}: {self.detail}" if where else self.detail


@dataclass
class Report:
    leaves: int = 0
    checkpoints: int = 0
    latest_checkpoint: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


def _projection_mismatch(row: Any, document: dict[str, Any]) -> str | None:
    """Where the leaf's query columns or the entry's id disagree with the entry's bytes."""
    if document.get("id") != row.id:
        return f"column id says {row.id!r}, the entry's bytes {document.get('id')!r}"
    for name, value in leaf_projection(document).items():
        stored = getattr(row, name)
        if stored != value:
            return f"column {name} says {stored!r}, the entry's bytes {value!r}"
    return None


def _rows(connection: Connection, batch: int) -> Iterator[tuple[Any, list[tuple[str, int]]]]:
    """Leaves in order with their entries, and the record targets stored for each."""
    target = AuditTarget.__table__
    last = -1
    while True:
        rows = connection.execute(
            select(*_COLUMNS)
            .select_from(_leaf.outerjoin(_entry, _entry.c.seq == _leaf.c.entry_seq))
            .where(_leaf.c.leaf_index > last)
            .order_by(_leaf.c.leaf_index)
            .limit(batch)
        ).all()
        if not rows:
            return
        first, last = rows[0].leaf_index, rows[-1].leaf_index
        targets: dict[int, list[tuple[str, int]]] = {}
        for index, record_id, version in connection.execute(
            select(target.c.leaf_index, target.c.record_id, target.c.version).where(
                target.c.leaf_index >= first, target.c.leaf_index <= last
            )
        ):
            targets.setdefault(index, []).append((record_id, version))
        for row in rows:
            yield row, targets.get(row.leaf_index, [])


def _signed_checkpoints(
    connection: Connection, verifier: NoteVerifier, report: Report
) -> dict[int, bytes]:
    roots: dict[int, bytes] = {}
    for row in connection.execute(
        select(_checkpoint.c.size, _checkpoint.c.root, _checkpoint.c.note).order_by(
            _checkpoint.c.size
        )
    ):
        try:
            note = open_note(row.note.encode(), verifiers=[verifier])
            checkpoint = Checkpoint.parse(note.text)
        except AuditError as error:
            report.findings.append(
                Finding("checkpoint", None, None, f"checkpoint {row.size}: {error}")
            )
            continue
        if checkpoint.size != row.size or checkpoint.root != bytes(row.root):
            report.findings.append(
                Finding(
                    "checkpoint", None, None, f"checkpoint {row.size}: columns differ from note"
                )
            )
        roots[checkpoint.size] = checkpoint.root
    report.checkpoints = len(roots)
    report.latest_checkpoint = max(roots, default=0)
    return roots


def verify_log(
    connection: Connection,
    *,
    verifier: NoteVerifier,
    progress: Callable[[int], None] | None = None,
    batch: int = 20_000,
    hole_window: timedelta = timedelta(minutes=5),
) -> Report:
    report = Report()
    roots = _signed_checkpoints(connection, verifier, report)
    tree = CompactRange.empty()
    recomputed: list[bytes] = []  # leaf hashes since the last matching checkpoint
    seqs: list[int | None] = []
    good_size = 0
    for row, targets in _rows(connection, batch):
        index = row.leaf_index
        if index != tree.size:
            report.findings.append(
                Finding("deleted", tree.size, None, f"leaves {tree.size}..{index - 1} are missing")
            )
            return report
        if row.seq is None:
            report.findings.append(
                Finding("deleted", index, row.entry_seq, "the leaf's entry is gone")
            )
            return report
        canonical = bytes(row.canonical)
        try:
            document = json.loads(canonical)
            mismatch = _projection_mismatch(row, document)
            if mismatch is None and sorted(entry_targets(document)) != sorted(targets):
                mismatch = "the record targets stored for it differ from the entry's bytes"
        except (ValueError, KeyError, TypeError, AttributeError):
            mismatch = "the entry's bytes are not a JSON entry"
        if mismatch is not None:
            report.findings.append(Finding("modified", index, row.seq, mismatch))
            return report
        digest = leaf_hash(canonical)
        tree.append(digest)
        recomputed.append(digest)
        seqs.append(row.seq)
        size = tree.size
        if size in roots:
            if tree.root() != roots[size]:
                report.findings.append(
                    _locate(connection, good_size, size, roots[size], recomputed, seqs)
                )
                return report
            good_size, recomputed, seqs = size, [], []
        if progress is not None and size % batch == 0:
            progress(batch)
    report.leaves = tree.size
    if progress is not None:
        progress(tree.size % batch)
    _unsequenced(connection, report, hole_window)
    return report


def _locate(
    connection: Connection,
    start: int,
    end: int,
    signed_root: bytes,
    recomputed: list[bytes],
    seqs: list[int | None],
) -> Finding:
    """Name the first bad leaf in ``[start, end)``, where the root stopped matching."""
    nodes = [NodeID(0, i) for i in range(start, end)]
    # Where a moved entry came from may lie past this checkpoint: look a little further.
    beyond = [NodeID(0, i) for i in range(end, min(integrated_size(connection), end + _LOOKAHEAD))]
    try:
        stored = stored_hashes(connection, nodes)
        stored.update(stored_hashes(connection, beyond, require_all=False))
        prefix = stored_hashes(connection, CompactRange.nodes_of(start))
    except LookupError:
        stored, prefix = {}, {}
    proven = False
    if stored:
        tree = CompactRange.from_hashes(
            size=start, hashes=[prefix[n] for n in CompactRange.nodes_of(start)]
        )
        for node in nodes:
            tree.append(stored[node])
        proven = tree.root() == signed_root
    if not proven:
        return Finding(
            "modified",
            start,
            None,
            f"leaves {start}..{end - 1} no longer match checkpoint {end}, and the stored "
            "tree hashes were rewritten too",
        )
    authentic = [stored[node] for node in nodes]
    position = {stored[node]: node.index for node in nodes + beyond if node in stored}
    for offset, digest in enumerate(recomputed):
        if digest == authentic[offset]:
            continue
        index, seq = start + offset, seqs[offset]
        belongs = position.get(digest)
        following = recomputed[offset + 1] if offset + 1 < len(recomputed) else None
        if belongs == index + 1 and following != authentic[offset]:
            return Finding(
                "deleted", index, seq, "the entry of this leaf is gone; the next one moved up"
            )
        if belongs is not None:
            return Finding("moved", index, seq, f"this leaf holds the entry of leaf {belongs}")
        if following is not None and following == authentic[offset]:
            return Finding("inserted", index, seq, "an entry was inserted before this leaf")
        return Finding("modified", index, seq, "the entry's bytes were changed")
    return Finding("modified", start, None, f"checkpoint {end} does not match")


def _unsequenced(connection: Connection, report: Report, window: timedelta) -> None:
    """Entries without a leaf, older than any transaction can stay open: inserted later."""
    high = connection.execute(
        select(_leaf.c.entry_seq).order_by(_leaf.c.entry_seq.desc()).limit(1)
    ).scalar()
    if high is None:
        return
    rows = connection.execute(
        select(_entry.c.seq, _entry.c.id, _entry.c.canonical)
        .where(
            _entry.c.seq < high,
            ~select(_leaf.c.entry_seq).where(_leaf.c.entry_seq == _entry.c.seq).exists(),
        )
        .order_by(_entry.c.seq)
        .limit(1000)
    )
    cutoff = utcnow() - window
    for seq, entry_id, canonical in rows:
        try:
            recorded_at = parse_rfc3339(json.loads(bytes(canonical))["time"])
        except (ValueError, KeyError, TypeError):
            recorded_at = None
        if recorded_at is None or recorded_at < cutoff:
            report.findings.append(
                Finding(
                    "inserted",
                    None,
                    int(seq),
                    f"entry {entry_id} has no leaf although later entries do",
                )
            )
            return
