"""Evidence for auditors: entries with a signed checkpoint, and proofs where needed.

A complete export holds every leaf up to a checkpoint, and the offline verifier rebuilds
the root from them; a filtered export (one agency, one action, a time range) holds only
the chosen entries, each with its inclusion proof. Either is checked by
``python -m audit verify`` without the server (``audit/verify.py``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from sqlalchemy import select
from sqlalchemy.engine import Connection

from audit.export import write_export
from exchange.trail import stored_tree
from exchange.trail.models import AuditEntry, AuditLeaf

_entry = AuditEntry.__table__
_leaf = AuditLeaf.__table__


@dataclass(frozen=True)
class ExportFilter:
    agency: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    record: str | None = None

    @property
    def empty(self) -> bool:
        return not any((self.agency, self.action, self.since, self.until, self.record))


def export_log(
    connection: Connection,
    stream: IO[str],
    *,
    size: int,
    note: str,
    selection: ExportFilter,
    batch: int = 10_000,
) -> int:
    """Write the export; returns how many entries it holds."""
    count = 0

    def counted(
        rows: Iterator[tuple[int, bytes, Sequence[bytes] | None]],
    ) -> Iterator[tuple[int, bytes, Sequence[bytes] | None]]:
        nonlocal count
        for row in rows:
            count += 1
            yield row

    if selection.empty:
        entries = _all(connection, size, batch)
    else:
        entries = _selected(connection, size, selection)
    write_export(
        stream,
        checkpoint_note=note.encode(),
        size=size,
        entries=counted(entries),
        complete=selection.empty,
    )
    return count


def _query(size: int):  # type: ignore[no-untyped-def]
    return (
        select(_leaf.c.leaf_index, _entry.c.canonical)
        .select_from(_leaf.join(_entry, _entry.c.seq == _leaf.c.entry_seq))
        .where(_leaf.c.leaf_index < size)
        .order_by(_leaf.c.leaf_index)
    )


def _all(
    connection: Connection, size: int, batch: int
) -> Iterator[tuple[int, bytes, Sequence[bytes] | None]]:
    last = -1
    while True:
        rows = connection.execute(_query(size).where(_leaf.c.leaf_index > last).limit(batch)).all()
        if not rows:
            return
        for index, canonical in rows:
            yield int(index), bytes(canonical), None
        last = rows[-1][0]


def _selected(
    connection: Connection, size: int, selection: ExportFilter
) -> Iterator[tuple[int, bytes, Sequence[bytes] | None]]:
    from exchange.trail.models import AuditTarget

    query = _query(size)
    if selection.agency:
        query = query.where(_leaf.c.actor_agency == selection.agency)
    if selection.action:
        query = query.where(_leaf.c.action == selection.action)
    if selection.since:
        query = query.where(_leaf.c.recorded_at >= selection.since)
    if selection.until:
        query = query.where(_leaf.c.recorded_at < selection.until)
    if selection.record:
        target = AuditTarget.__table__
        query = query.where(
            select(target.c.leaf_index)
            .where(
                target.c.leaf_index == _leaf.c.leaf_index,
                target.c.record_id == selection.record,
            )
            .exists()
        )
    for index, canonical in connection.execute(query).all():
        proof = stored_tree.inclusion_proof(connection, index=int(index), size=size)
        yield int(index), bytes(canonical), proof
