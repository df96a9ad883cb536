"""``exchange audit verify``: re-derive every leaf and root from the stored entries.

Trust comes from the signed checkpoints alone. Each entry's stored bytes are hashed
again (RFC 9162 leaf hash), the tree is rebuilt in leaf order and its root compared with
every checkpoint; the columns auditors query are compared with the bytes they repeat,
and every stored tree hash, from which the server builds its proofs, with the hash of the
leaves under it: the first that differs is named by its level and index. When a root
does not match, the stored leaf hashes of that stretch are first proven against the
signed root, then used to name the first entry that was modified, deleted, inserted or
moved. Entries that never got a leaf, though later ones did, are named too.
"""

from __future__ import annotations

import bisect
import json
import multiprocessing
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.engine import Connection

from audit.checkpoint import Checkpoint
from audit.errors import AuditError
from audit.note import NoteVerifier, open_note
from audit.tree import CompactRange, NodeID, stored_index
from exchange.clock import parse_rfc3339, utcnow
from exchange.trail.leaf_checks import (
    Finding,
    Stretch,
    check_leaves,
    check_leaves_at,
    wrong_node,
)
from exchange.trail.models import AuditCheckpoint, AuditEntry, AuditLeaf
from exchange.trail.stored_tree import integrated_size, stored_hashes

_entry = AuditEntry.__table__
_leaf = AuditLeaf.__table__
_checkpoint = AuditCheckpoint.__table__

_LOOKAHEAD = 4096
# Leaves checked per call: what one worker process takes on at a time. Small enough that
# the workers finish together, large enough to hold several reads of ``batch`` leaves,
# each read while the one before is checked.
_STRETCH = 16_384


@dataclass
class Report:
    leaves: int = 0
    checkpoints: int = 0
    latest_checkpoint: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


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
    batch: int = 4_096,
    workers: int = 1,
    parallel_from: int = 200_000,
    hole_window: timedelta = timedelta(minutes=5),
) -> Report:
    """Verify every leaf against its entry, every root against its signed checkpoint and
    every stored tree hash against the leaves under it.

    A changed entry is named as such, not as the stored hashes it no longer matches; a
    stored hash is named when the entries agree with every signed root. With ``workers``
    > 1 and at least ``parallel_from`` leaves, stretches of leaves are checked in that many
    worker processes; the tree is rebuilt here, in order.
    """
    report = Report()
    roots = _signed_checkpoints(connection, verifier, report)
    total = integrated_size(connection)
    sizes = sorted(roots)
    # Each stretch brings back the edges of the tree at the signed sizes within it and at
    # its end, hashed where it was checked; stretches start at multiples of their length,
    # a power of two, as those edges require.
    stretches = [
        (
            first,
            stop,
            tuple(sizes[bisect.bisect_right(sizes, first) : bisect.bisect_left(sizes, stop)]),
        )
        for first in range(0, total, _STRETCH)
        for stop in [min(first + _STRETCH, total)]
    ]
    if workers > 1 and total >= parallel_from:
        url = connection.engine.url.render_as_string(hide_password=False)
        # Fork is quick and safe in a process of one thread (the command line); a threaded
        # server starts its workers afresh instead.
        method = "fork" if threading.active_count() == 1 else "spawn"
        with multiprocessing.get_context(method).Pool(workers) as pool:
            parallel = pool.imap(
                _check_at, [(url, first, stop, batch, inner) for first, stop, inner in stretches]
            )
            wrong = _rebuild(connection, report, roots, parallel, progress)
    else:
        checked: Iterable[Stretch] = (
            check_leaves(connection, first=first, stop=stop, batch=batch, sizes=inner)
            for first, stop, inner in stretches
        )
        wrong = _rebuild(connection, report, roots, checked, progress)
    if report.ok and report.latest_checkpoint > total:
        report.findings.append(
            Finding(
                "deleted",
                total,
                None,
                f"leaves {total}..{report.latest_checkpoint - 1} are missing, though signed",
            )
        )
    if report.ok and wrong is not None:
        report.findings.append(wrong)
    if report.ok:
        _unsequenced(connection, report, hole_window)
    return report


def _check_at(arguments: tuple[str, int, int, int, tuple[int, ...]]) -> Stretch:
    return check_leaves_at(*arguments)


def _rebuild(
    connection: Connection,
    report: Report,
    roots: dict[int, bytes],
    stretches: Iterable[Stretch],
    progress: Callable[[int], None] | None,
) -> Finding | None:
    """Rebuild the tree from the stretches in order, checking each signed root; return
    the first stored tree hash that differs from the rebuilt tree, if any."""
    tree = CompactRange.empty()
    sizes = sorted(roots)
    good_size = 0
    wrong: Finding | None = None
    for stretch in stretches:
        start = tree.size
        end = start + stretch.count
        signed = sizes[bisect.bisect_right(sizes, start) : bisect.bisect_right(sizes, end)]
        if stretch.edges:
            for size in signed:
                if size == end:
                    continue
                within = CompactRange.from_hashes(size=start, hashes=tree.hashes)
                within.extend_range(size - start, stretch.edges[size])
                if within.root() != roots[size]:
                    report.findings.append(_locate(connection, good_size, size, roots[size]))
                    return wrong
                good_size = size
            completed = tree.extend_range(stretch.count, stretch.edges[end])
            # Stored order: the subtrees within the stretch, then those it completes.
            wrong = wrong or stretch.wrong or _first_wrong(completed, stretch.beyond)
            if end in roots:
                if tree.root() != roots[end]:
                    report.findings.append(_locate(connection, good_size, end, roots[end]))
                    return wrong
                good_size = end
        else:
            digests = stretch.digests
            hashes = [digests[offset : offset + 32] for offset in range(0, len(digests), 32)]
            for size in signed:
                tree.extend(hashes[tree.size - start : size - start])
                if tree.root() != roots[size]:
                    report.findings.append(_locate(connection, good_size, size, roots[size]))
                    return wrong
                good_size = size
            tree.extend(hashes[tree.size - start :])
        if progress is not None:
            progress(stretch.count)
        if stretch.finding is not None:
            report.findings.append(stretch.finding)
            return wrong
    report.leaves = tree.size
    return wrong


def _first_wrong(completed: list[tuple[NodeID, bytes]], stored: dict[int, bytes]) -> Finding | None:
    for node, digest in completed:
        found = stored.get(stored_index(node))
        if found != digest:
            return wrong_node(node, found)
    return None


def _locate(connection: Connection, start: int, end: int, signed_root: bytes) -> Finding:
    """Name the first bad leaf in ``[start, end)``, where the root stopped matching."""
    stretch = check_leaves(connection, first=start, stop=end, batch=_STRETCH)
    digests = stretch.digests
    recomputed = [digests[offset : offset + 32] for offset in range(0, len(digests), 32)]
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
    seqs = _seqs(connection, start, end)
    position = {stored[node]: node.index for node in nodes + beyond if node in stored}
    for offset, digest in enumerate(recomputed):
        if digest == authentic[offset]:
            continue
        index = start + offset
        seq = seqs.get(index)
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


def _seqs(connection: Connection, start: int, end: int) -> dict[int, int]:
    rows = connection.execute(
        select(_leaf.c.leaf_index, _leaf.c.entry_seq).where(
            _leaf.c.leaf_index >= start, _leaf.c.leaf_index < end
        )
    )
    return {int(index): int(seq) for index, seq in rows}


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
