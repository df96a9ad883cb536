"""Before the integrator signs: its state must reproduce the last root it signed.

The integrator resumes from the stored hashes of the tree's right edge (its compact
range). Were one of them changed, it would sign a root that matches none of its entries:
the log would fork itself and witnesses would refuse it from then on. So the stored hashes
at the newest checkpoint's size must fold to that checkpoint's signed root (RFC 9162
§2.1.1), and the leaves integrated since, hashed again from their entries, must extend
that tree to exactly the right edge the integrator loaded.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from audit.checkpoint import Checkpoint
from audit.errors import AuditError
from audit.merkle import leaf_hash
from audit.note import NoteVerifier, open_note
from audit.tree import CompactRange
from exchange.trail.models import AuditCheckpoint, AuditEntry, AuditLeaf
from exchange.trail.stored_tree import compact_range

_checkpoint = AuditCheckpoint.__table__
_entry = AuditEntry.__table__
_leaf = AuditLeaf.__table__


class SignedStateMismatch(Exception):
    """The stored tree does not reproduce the newest signed checkpoint: signing now would
    fork the log."""


def signed_state(
    connection: Connection, *, size: int, verifier: NoteVerifier, batch: int = 10_000
) -> CompactRange:
    """The right edge of the stored tree of ``size`` leaves, once it is shown to extend
    the newest checkpoint signed under ``verifier``; raises :class:`SignedStateMismatch`."""
    try:
        loaded = compact_range(connection, size)
    except LookupError as missing:
        raise SignedStateMismatch(
            f"the tree of {size} leaves cannot be loaded: {missing}"
        ) from None
    row = connection.execute(
        select(_checkpoint.c.size, _checkpoint.c.note).order_by(_checkpoint.c.size.desc()).limit(1)
    ).first()
    if row is None:
        return loaded
    try:
        signed = Checkpoint.parse(open_note(row.note.encode(), verifiers=[verifier]).text)
    except AuditError as error:
        raise SignedStateMismatch(
            f"the newest checkpoint ({row.size}) does not verify under the log's key: {error}"
        ) from None
    if signed.size != row.size or signed.size > size:
        raise SignedStateMismatch(
            f"the newest checkpoint signs {signed.size} leaves; the tree holds {size}"
        )
    try:
        tree = compact_range(connection, signed.size)
    except LookupError as missing:
        raise SignedStateMismatch(
            f"the tree at the newest checkpoint ({signed.size}) cannot be loaded: {missing}"
        ) from None
    if tree.root() != signed.root:
        raise SignedStateMismatch(
            f"the stored tree hashes at size {signed.size} do not reproduce the root of the "
            "newest checkpoint"
        )
    _extend_from_entries(connection, tree, size=size, batch=batch)
    if tree.hashes != loaded.hashes:
        raise SignedStateMismatch(
            f"the stored right edge at size {size} is not the tree of the signed checkpoint "
            f"({signed.size}) extended by the entries integrated since"
        )
    return loaded


def _extend_from_entries(
    connection: Connection, tree: CompactRange, *, size: int, batch: int
) -> None:
    """Append the leaves ``[tree.size, size)``, hashed again from their entries' bytes."""
    while tree.size < size:
        start = tree.size
        rows = connection.execute(
            select(_leaf.c.leaf_index, _entry.c.canonical)
            .select_from(_leaf.outerjoin(_entry, _entry.c.seq == _leaf.c.entry_seq))
            .where(_leaf.c.leaf_index >= start, _leaf.c.leaf_index < min(size, start + batch))
            .order_by(_leaf.c.leaf_index)
        ).all()
        for offset, (index, canonical) in enumerate(rows):
            if index != start + offset or canonical is None:
                raise SignedStateMismatch(f"leaf {start + offset} has no entry")
            tree.append(leaf_hash(bytes(canonical)))
        if not rows:
            raise SignedStateMismatch(f"leaf {start} has no entry")
