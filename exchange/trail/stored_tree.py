"""The stored Merkle tree: roots and proofs from O(log n) stored hashes (RFC 9162 §2.1)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from audit.tree import (
    CompactRange,
    NodeID,
    ProofPlan,
    consistency_plan,
    inclusion_plan,
    stored_index,
)
from exchange.trail.models import AuditHash, AuditLeaf

_hash = AuditHash.__table__
_leaf = AuditLeaf.__table__


def integrated_size(connection: Connection) -> int:
    """Leaves integrated so far: the index after the last one."""
    last = connection.execute(select(func.max(_leaf.c.leaf_index))).scalar()
    return 0 if last is None else int(last) + 1


def stored_hashes(
    connection: Connection, nodes: Iterable[NodeID], *, require_all: bool = True
) -> dict[NodeID, bytes]:
    by_index = {stored_index(node): node for node in nodes}
    if not by_index:
        return {}
    rows = connection.execute(
        select(_hash.c.stored_index, _hash.c.hash).where(_hash.c.stored_index.in_(by_index))
    )
    found = {by_index[index]: bytes(digest) for index, digest in rows}
    if require_all and len(found) != len(by_index):
        missing = sorted(set(by_index.values()) - set(found))
        raise LookupError(f"stored tree hashes missing: {missing[:3]}")
    return found


def compact_range(connection: Connection, size: int) -> CompactRange:
    nodes = CompactRange.nodes_of(size)
    hashes = stored_hashes(connection, nodes)
    return CompactRange.from_hashes(size=size, hashes=[hashes[node] for node in nodes])


def root_at(connection: Connection, size: int) -> bytes:
    return compact_range(connection, size).root()


def assemble(connection: Connection, plan: ProofPlan) -> list[bytes]:
    return plan.assemble(stored_hashes(connection, plan.nodes))


def inclusion_proof(connection: Connection, *, index: int, size: int) -> list[bytes]:
    return assemble(connection, inclusion_plan(index=index, size=size))


def consistency_proof(connection: Connection, *, old_size: int, new_size: int) -> list[bytes]:
    return assemble(connection, consistency_plan(old_size=old_size, new_size=new_size))
