"""Reading the stored leaves in order and checking each against its entry's bytes.

For ``exchange audit verify``: a leaf must hold an entry, the leaf's query columns and
record targets must say what the entry's bytes say, and the bytes give the leaf hash. The
stored tree hashes the server builds its proofs from are compared with the ones hashed
again from the entries. A stretch of leaves is checked by one call, in this process or in
a worker process of its own (a verification reads every row of the log, and parsing is the
costly part).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    String,
    bindparam,
    create_engine,
    func,
    select,
    type_coerce,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from audit.merkle import leaf_hash
from audit.tree import (
    NodeID,
    range_edges,
    stored_count,
    stored_index,
    stored_order,
    stored_order_nodes,
    subtree_levels,
)
from exchange.trail.entry_fields import account_of, entry_targets, leaf_projection
from exchange.trail.models import AuditEntry, AuditHash, AuditLeaf, AuditTarget

# The leaf's query columns, in the order of leaf_projection; positions 2.. of a row.
_DERIVED = (
    "recorded_at",
    "action",
    "outcome",
    "status",
    "actor_agency",
    "actor_system",
    "actor_fingerprint",
    "purpose",
    "actor_user",
    "account_user",
)
_leaf, _entry = AuditLeaf.__table__, AuditEntry.__table__
_target, _hash = AuditTarget.__table__, AuditHash.__table__
_low: BindParameter[int] = bindparam("low", type_=Integer)
_high: BindParameter[int] = bindparam("high", type_=Integer)


def _leaf_time(dialect: str) -> ColumnElement[str]:
    """A leaf's time as text in the one form SQLite stores it in, so that either database's
    rows compare with the entry's bytes alike, without parsing a time per leaf."""
    if dialect == "postgresql":
        utc = func.timezone("UTC", _leaf.c.recorded_at)
        return func.to_char(utc, "YYYY-MM-DD HH24:MI:SS.US", type_=String)
    return type_coerce(_leaf.c.recorded_at, String)


def _leaf_columns(dialect: str) -> list[ColumnElement[Any]]:
    return [
        _leaf.c.leaf_index,
        _leaf.c.entry_seq,
        _leaf_time(dialect),
        *(_leaf.c[name] for name in _DERIVED[1:]),
    ]


@functools.cache
def _statements(dialect: str) -> tuple[Select[Any], Select[Any], Select[Any], Select[Any]]:
    """The stretch's reads: leaves, entries by seq range, the two joined, and targets."""
    in_range = (_leaf.c.leaf_index >= _low) & (_leaf.c.leaf_index < _high)
    leaves = select(*_leaf_columns(dialect)).where(in_range)
    entries = select(_entry.c.seq, _entry.c.id, _entry.c.canonical).where(
        _entry.c.seq.between(_low, _high)
    )
    joined = (
        select(*_leaf_columns(dialect), _entry.c.seq, _entry.c.id, _entry.c.canonical)
        .select_from(_leaf.outerjoin(_entry, _entry.c.seq == _leaf.c.entry_seq))
        .where(in_range)
    )
    targets = select(_target.c.leaf_index, _target.c.record_id, _target.c.version).where(
        _target.c.leaf_index.between(_low, _high)
    )
    return leaves, entries, joined, targets


# Ordered by the primary key, read in its order: no sort on either database.
_STORED = (
    select(_hash.c.stored_index, _hash.c.hash)
    .where(_hash.c.stored_index >= _low, _hash.c.stored_index < _high)
    .order_by(_hash.c.stored_index)
)
# Entries read by one range of seqs, at most this many times the leaves they serve; leaves
# whose seqs lie further apart are joined with their entries by the database instead.
_SEQ_SPREAD = 4
_NO_ENTRY = (None, None, None)
_LEAF_WIDTH = 12
_by_leaf_index = itemgetter(0)
_hash_of = itemgetter(1)


@dataclass(frozen=True)
class Finding:
    kind: str  # modified | deleted | inserted | moved | checkpoint | unsequenced | tree
    index: int | None
    seq: int | None
    detail: str
    node: NodeID | None = None

    def __str__(self) -> str:
        where = [f"leaf {self.index}"] if self.index is not None else []
        where += [f"entry seq {self.seq}"] if self.seq is not None else []
        if self.node is not None:
            where.append(f"node (level {self.node.level}, index {self.node.index})")
        return f"{self.kind}: {', '.join(where)}: {self.detail}" if where else self.detail


def wrong_node(node: NodeID, stored: bytes | None) -> Finding:
    """A stored tree hash that is not the hash of the leaves under it (RFC 9162 §2.1.1):
    proofs the server builds from it do not verify."""
    first = node.index << node.level
    last = first + (1 << node.level) - 1
    leaves = f"leaf {first}" if first == last else f"leaves {first}..{last}"
    if stored is None:
        detail = f"the stored hash over {leaves} is missing"
    else:
        detail = f"the stored hash over {leaves} is not the hash of their entries"
    return Finding("tree", None, None, detail, node=node)


@dataclass(frozen=True)
class Stretch:
    """Leaves ``first`` onwards, checked up to the first finding if any.

    ``digests`` holds their leaf hashes; a stretch checked for a tree rebuilt elsewhere
    may carry ``edges`` instead: for each tree size asked for, the hashes of the perfect
    subtrees covering ``[first, size)`` (:func:`audit.tree.range_edges`). Such a stretch
    has compared the stored hashes of the subtrees within it: ``wrong`` names the first
    that differs; ``beyond`` holds the stored hashes, by stored index, of the larger
    subtrees its last leaf completes, which only the tree rebuilt from every stretch can
    check.
    """

    first: int
    count: int
    digests: bytes
    finding: Finding | None
    edges: dict[int, list[bytes]] = field(default_factory=dict)
    wrong: Finding | None = None
    beyond: dict[int, bytes] = field(default_factory=dict)


def _utc(value: Any) -> datetime:
    """A stored or written time, aware: SQLite hands back naive UTC text, PostgreSQL
    aware datetimes, and the entry's bytes say ``Z``. Aware times compare across zones."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _stored_text(written: str) -> str:
    """An entry's ``...THH:MM:SS[.f]Z`` time as the integrator stores it on SQLite:
    ``... HH:MM:SS.ffffff``. The column is written in that one form, so it agrees with the
    entry exactly when the texts do."""
    fraction = written[20:-1]
    return f"{written[:10]} {written[11:19]}.{fraction:0<6}"


def _projection_agrees(leaf: Sequence[Any], entry_id: Any, document: dict[str, Any]) -> bool:
    """True when the leaf's query columns and the entry's id say exactly what the entry's
    bytes say.

    The common case, decided in one expression; anything else goes to
    :func:`_projection_mismatch`, which names the column.
    """
    actor = document.get("actor") or {}
    return bool(
        leaf[3] == document["action"]
        and leaf[4] == document["outcome"]
        and leaf[5] == document["status"]
        and leaf[6] == actor.get("agency")
        and leaf[7] == actor.get("system")
        and leaf[8] == actor.get("fingerprint")
        and leaf[9] == document.get("purpose")
        and leaf[10] == actor.get("user")
        and leaf[11] == account_of(document)
        and entry_id == document.get("id")
        and leaf[2] == _stored_text(document["time"])
    )


def _projection_mismatch(
    leaf: Sequence[Any], entry_id: Any, document: dict[str, Any]
) -> str | None:
    """Where the leaf's query columns or the entry's id disagree with the entry's bytes."""
    if document.get("id") != entry_id:
        return f"column id says {entry_id!r}, the entry's bytes {document.get('id')!r}"
    actor = document.get("actor") or {}
    written = (
        document["action"],
        document["outcome"],
        document["status"],
        actor.get("agency"),
        actor.get("system"),
        actor.get("fingerprint"),
        document.get("purpose"),
        actor.get("user"),
        account_of(document),
    )
    if tuple(leaf[3:12]) != written or _utc(leaf[2]) != _utc(document["time"]):
        stored = dict(zip(_DERIVED, leaf[2:12], strict=True))
        for name, value in leaf_projection(document).items():
            if name == "recorded_at":
                if _utc(stored[name]) != _utc(value):
                    return f"column {name} says {stored[name]!s}, the entry's bytes {value!s}"
            elif stored[name] != value:
                return f"column {name} says {stored[name]!r}, the entry's bytes {value!r}"
    return None


_Row = tuple[Sequence[Any], Sequence[Any], list[tuple[str, int]]]


def _rows(connection: Connection, batch: int, *, first: int, stop: int) -> Iterator[_Row]:
    """Leaves ``[first, stop)`` in order, each with its entry (seq, id, bytes; or Nones when
    there is none) and its stored targets."""
    postgres = connection.dialect.name == "postgresql"
    leaves_sql, entries_sql, joined_sql, targets_sql = _statements(connection.dialect.name)
    no_targets: list[tuple[str, int]] = []

    def fetch(low: int, high: int) -> list[_Row]:
        # Leaf indices are gap-free: a bounded range holds at most ``batch`` rows, read
        # without ORDER BY and LIMIT (a planner misjudging the range would sort it on
        # disk) and put in order here.
        leaves = sorted(
            connection.execute(leaves_sql, {"low": low, "high": high}), key=_by_leaf_index
        )
        seqs = [leaf[1] for leaf in leaves if leaf[1] is not None]
        lowest, highest = (min(seqs), max(seqs)) if seqs else (0, 0)
        paired: list[tuple[Sequence[Any], Sequence[Any]]]
        if seqs and highest - lowest < _SEQ_SPREAD * len(leaves):
            # Two range scans, joined here, cost the database a fraction of a join that
            # looks up each leaf's entry by its key.
            found = connection.execute(entries_sql, {"low": lowest, "high": highest})
            entries = {entry[0]: entry for entry in found}
            paired = [(leaf, entries.get(leaf[1], _NO_ENTRY)) for leaf in leaves]
        else:
            joined = sorted(
                connection.execute(joined_sql, {"low": low, "high": high}), key=_by_leaf_index
            )
            paired = [(row[:_LEAF_WIDTH], row[_LEAF_WIDTH:]) for row in joined]
        targets: dict[int, list[tuple[str, int]]] = {}
        if paired:
            bounds = {"low": paired[0][0][0], "high": paired[-1][0][0]}
            for index, record_id, version in connection.execute(targets_sql, bounds):
                targets.setdefault(index, []).append((record_id, version))
        return [(leaf, entry, targets.get(leaf[0], no_targets)) for leaf, entry in paired]

    ranges = [(low, min(stop, low + batch)) for low in range(first, stop, batch)]
    if not postgres:
        for low, high in ranges:
            yield from fetch(low, high)
        return
    # The next range is read while this one is checked: the server's work and the
    # wait for it overlap the hashing. One helper thread, so the connection is only
    # ever used by one thread at a time.
    with ThreadPoolExecutor(max_workers=1) as reader:
        pending = reader.submit(fetch, *ranges[0]) if ranges else None
        for position in range(len(ranges)):
            assert pending is not None
            rows = pending.result()
            following = position + 1
            pending = reader.submit(fetch, *ranges[following]) if following < len(ranges) else None
            yield from rows
        if pending is not None:
            pending.result()


def _targets_agree(document: dict[str, Any], targets: list[tuple[str, int]]) -> bool:
    """True when the record targets stored for a leaf are the ones its entry names."""
    written = document.get("targets")
    if not written and not targets:
        return True
    if len(targets) == 1 and type(written) is list and len(written) == 1:
        # One target, as for every read: no lists to build and sort.
        return (written[0]["id"], written[0]["version"]) == targets[0]
    return sorted(entry_targets(document)) == sorted(targets)


def check_leaves(
    connection: Connection,
    *,
    first: int,
    stop: int,
    batch: int,
    sizes: Sequence[int] | None = None,
) -> Stretch:
    """Check leaves ``[first, stop)``; stop at the first that is wrong.

    With ``sizes``, a stretch that is all correct carries the edges of the tree at each of
    those sizes and at ``stop`` instead of its leaf hashes; ``first`` must then be a
    multiple of the stretch's length rounded up to a power of two.
    """
    hashes: list[bytes] = []
    expected = first
    finding = None
    for leaf, entry, targets in _rows(connection, batch, first=first, stop=stop):
        index = leaf[0]
        if index != expected:
            finding = Finding(
                "deleted", expected, None, f"leaves {expected}..{index - 1} are missing"
            )
            break
        seq, entry_id, canonical = entry
        if seq is None:
            finding = Finding("deleted", index, leaf[1], "the leaf's entry is gone")
            break
        canonical = bytes(canonical)
        try:
            document = orjson.loads(canonical)
            mismatch = (
                None
                if _projection_agrees(leaf, entry_id, document)
                else _projection_mismatch(leaf, entry_id, document)
            )
            if mismatch is None and not _targets_agree(document, targets):
                mismatch = "the record targets stored for it differ from the entry's bytes"
        except (ValueError, KeyError, TypeError, AttributeError):
            # orjson.JSONDecodeError, invalid UTF-8 included, is a ValueError too.
            mismatch = "the entry's bytes are not a JSON entry"
        if mismatch is not None:
            finding = Finding("modified", index, seq, mismatch)
            break
        hashes.append(leaf_hash(canonical))
        expected = index + 1
    if finding is None and expected != stop:
        finding = Finding("deleted", expected, None, f"leaves {expected}..{stop - 1} are missing")
    if finding is not None or sizes is None:
        return Stretch(first, len(hashes), b"".join(hashes), finding)
    cuts = [size - first for size in sizes if first < size < stop]
    levels = subtree_levels(hashes)
    edges = range_edges(hashes, [*cuts, stop - first], levels=levels)
    wrong, beyond = _compare_stored(connection, first=first, stop=stop, levels=levels)
    return Stretch(
        first,
        len(hashes),
        b"",
        None,
        {first + cut: edge for cut, edge in edges.items()},
        wrong,
        beyond,
    )


def _compare_stored(
    connection: Connection, *, first: int, stop: int, levels: Sequence[Sequence[bytes]]
) -> tuple[Finding | None, dict[int, bytes]]:
    """Compare the stored hashes written for leaves ``[first, stop)`` with ``levels``.

    Those are the stored indices ``stored_count(first)`` up to ``stored_count(stop)``, read
    by one range of the key: the subtrees within the stretch, in :func:`stored_order`,
    then the larger ones its last leaf completes (returned, by stored index).
    """
    low, high = stored_count(first), stored_count(stop)
    rows = connection.execute(_STORED, {"low": low, "high": high}).all()
    expected = stored_order(levels)
    within = len(expected)
    # Unique keys in [low, high): as many rows as keys means none is missing.
    whole = len(rows) == high - low
    beyond = {
        int(index): bytes(digest)
        for index, digest in rows[within if whole else 0 :]
        if index >= low + within
    }
    if whole and b"".join(map(_hash_of, islice(rows, within))) == b"".join(expected):
        return None, beyond
    stored = {int(index): bytes(digest) for index, digest in rows}
    for node, digest in zip(
        stored_order_nodes(first=first, count=stop - first), expected, strict=True
    ):
        found = stored.get(stored_index(node))
        if found != digest:
            return wrong_node(node, found), beyond
    return None, beyond


# A worker process's engine, kept for the stretches it checks after its first.
_engines: dict[str, Engine] = {}


def check_leaves_at(
    url: str, first: int, stop: int, batch: int, sizes: Sequence[int] | None = None
) -> Stretch:
    """:func:`check_leaves` on a connection of its own, for a worker process."""
    engine = _engines.get(url)
    if engine is None:
        engine = _engines[url] = create_engine(url, poolclass=StaticPool)
    with engine.connect() as connection:
        return check_leaves(connection, first=first, stop=stop, batch=batch, sizes=sizes)
