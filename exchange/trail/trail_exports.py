"""Exports of a filtered trail: CSV for spreadsheets, JSON Lines with inclusion proofs.

Both cover the leaves up to the latest checkpoint, oldest first, and are written batch by
batch as the response streams. The JSON Lines form is the ``audit`` library's export
(``audit/export.py``): a filtered export that ``python -m audit verify`` checks offline
against the log's verifier key.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from audit.export import write_export
from audit.tree import inclusion_plan
from exchange.trail import stored_tree
from exchange.trail.access_trails import TrailFilter, matching_entries
from exchange.trail.entry_fields import account_of

EXPORT_MAX = 100_000
# Excel reads a UTF-8 file as UTF-8 (and Japanese as Japanese) only after this mark.
BYTE_ORDER_MARK = "\ufeff"
# A spreadsheet takes a cell that begins with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: Any) -> Any:
    """A cell that a spreadsheet shows as text, never runs: formulas get a leading quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _csv_line(cells: Sequence[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([spreadsheet_cell(c) for c in cells])
    return buffer.getvalue()


def csv_row(leaf_index: int, canonical: bytes) -> list[Any]:
    """One entry's CSV row, read from its bytes: the evidence, not the derived columns."""
    entry = json.loads(canonical)
    actor = entry.get("actor") or {}
    targets = ";".join(
        f"{target.get('id')}@{target.get('version')}" for target in entry.get("targets") or []
    )
    return [
        leaf_index,
        entry.get("time", ""),
        entry.get("action", ""),
        entry.get("outcome", ""),
        entry.get("status", ""),
        actor.get("kind", ""),
        actor.get("agency", ""),
        actor.get("system", ""),
        actor.get("user", ""),
        account_of(entry) or "",
        entry.get("purpose", ""),
        targets,
        entry.get("id", ""),
    ]


def csv_export(
    connection: Connection, *, selection: TrailFilter, size: int, header: Sequence[str]
) -> Iterator[str]:
    yield BYTE_ORDER_MARK + _csv_line(header)
    for batch in matching_entries(connection, selection=selection, size=size):
        yield "".join(_csv_line(csv_row(index, canonical)) for index, canonical in batch)


def _with_proofs(
    connection: Connection, batch: list[tuple[int, bytes]], size: int
) -> list[tuple[int, bytes, Sequence[bytes] | None]]:
    # One look-up of stored hashes for the whole batch, not one per entry.
    plans = [inclusion_plan(index=index, size=size) for index, _ in batch]
    hashes = stored_tree.stored_hashes(connection, {node for plan in plans for node in plan.nodes})
    return [
        (index, canonical, plan.assemble(hashes))
        for (index, canonical), plan in zip(batch, plans, strict=True)
    ]


def jsonl_export(
    connection: Connection, *, selection: TrailFilter, size: int, note: str
) -> Iterator[str]:
    """The header line with the checkpoint note, then one line per entry with its proof."""
    first = True
    for batch in matching_entries(connection, selection=selection, size=size, batch=500):
        chunk = io.StringIO()
        write_export(
            chunk,
            checkpoint_note=note.encode(),
            size=size,
            entries=_with_proofs(connection, batch, size),
            complete=False,
        )
        text = chunk.getvalue()
        # Each batch goes through the library's writer, which checks its entries; the
        # header line it writes is the same every time and is sent once.
        header, _, lines = text.partition("\n")
        yield (header + "\n" + lines) if first else lines
        first = False
    if first:
        chunk = io.StringIO()
        write_export(chunk, checkpoint_note=note.encode(), size=size, entries=(), complete=False)
        yield chunk.getvalue()
