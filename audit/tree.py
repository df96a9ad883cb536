"""A Merkle tree kept as stored hashes of its perfect subtrees.

Every perfect subtree (2**level leaves, aligned) is hashed once, when its last leaf is
appended, and never changes; the log stores those hashes keyed by :func:`stored_index`.
Appending needs only the right edge of the tree (:class:`CompactRange`), and any root or
proof needs O(log n) stored hashes (:class:`ProofPlan`). The layout is the one of
golang.org/x/mod/sumdb/tlog, after Crosby and Wallach, "Efficient Data Structures for
Tamper-Evident Logging" §3.3.
"""

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from audit.errors import ProofError
from audit.merkle import _NODE_PREFIX, EMPTY_ROOT, HASH_SIZE, _split, node_hash


@dataclass(frozen=True, order=True, slots=True)
class NodeID:
    """The perfect subtree over leaves ``[index << level, (index + 1) << level)``."""

    level: int
    index: int


def stored_index(node: NodeID) -> int:
    """The position of ``node`` in the order stored hashes are written (tlog StoredHashIndex).

    Leaf n is written after everything leaves 0..n-1 completed; the nodes a leaf completes
    follow it, lowest first. Counting the hashes written before the last leaf under the node
    gives last + last/2 + last/4 + ... = 2*last - popcount(last).
    """
    if node.level < 0 or node.index < 0:
        raise ProofError(f"no such node: {node}")
    last = ((node.index + 1) << node.level) - 1
    return 2 * last - last.bit_count() + node.level


def stored_count(size: int) -> int:
    """How many hashes are stored for a tree of ``size`` leaves (tlog StoredHashCount)."""
    if size < 0:
        raise ProofError(f"no tree has size {size}")
    return 2 * size - size.bit_count()


def _range_nodes(lo: int, hi: int) -> tuple[NodeID, ...]:
    # The perfect subtrees covering [lo, hi), left to right. RFC 9162 §2.1.1 splits every
    # subtree at a power of two, so lo is a multiple of the largest piece and each piece is
    # aligned; hashing them right to left gives MTH(D[lo:hi]).
    nodes = []
    size = hi - lo
    for level in reversed(range(size.bit_length())):
        if size >> level & 1:
            nodes.append(NodeID(level, lo >> level))
            lo += 1 << level
    return tuple(nodes)


def _fold(hashes: Sequence[bytes]) -> bytes:
    h = hashes[-1]
    for left in reversed(hashes[:-1]):
        h = node_hash(left, h)
    return h


class CompactRange:
    """The right edge of a tree: the hashes of the perfect subtrees covering all its leaves."""

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @classmethod
    def empty(cls) -> "CompactRange":
        return cls()

    @staticmethod
    def nodes_of(size: int) -> list[NodeID]:
        """The perfect subtrees covering ``[0, size)``, left to right: one per set bit."""
        if size < 0:
            raise ProofError(f"no tree has size {size}")
        return list(_range_nodes(0, size))

    @classmethod
    def from_hashes(cls, *, size: int, hashes: Sequence[bytes]) -> "CompactRange":
        """Resume from the stored hashes of :meth:`nodes_of` ``(size)``, in that order."""
        expected = len(cls.nodes_of(size))
        if len(hashes) != expected:
            raise ProofError(f"a tree of size {size} has {expected} edge hashes, not {len(hashes)}")
        if any(len(h) != HASH_SIZE for h in hashes):
            raise ProofError(f"edge hashes must be {HASH_SIZE} bytes")
        compact = cls()
        compact._size = size
        compact._hashes = [bytes(h) for h in hashes]
        return compact

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> list[tuple[NodeID, bytes]]:
        """Add a leaf; return the nodes it completes, the leaf first, in stored-index order."""
        index = self._size
        completed = self._push(leaf_hash)
        return [(NodeID(level, index >> level), h) for level, h in enumerate(completed)]

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Add leaves when their stored hashes are not wanted, as a verifier does.

        The loop of :meth:`_push` without the list of completed nodes: a verifier
        rebuilds whole logs through here.
        """
        hashes = self._hashes
        size = self._size
        try:
            for leaf_hash in leaf_hashes:
                if len(leaf_hash) != HASH_SIZE:
                    raise ProofError(f"leaf hash must be {HASH_SIZE} bytes")
                h = leaf_hash
                index = size
                while index & 1:
                    h = node_hash(hashes.pop(), h)
                    index >>= 1
                hashes.append(h)
                size += 1
        finally:
            self._size = size

    def extend_range(self, count: int, hashes: Sequence[bytes]) -> list[tuple[NodeID, bytes]]:
        """Add ``count`` leaves at once, from the hashes of the perfect subtrees that cover
        them (:func:`range_edges`), largest first.

        Each subtree must be aligned where it lands: the tree's size before it has to be a
        multiple of its leaf count, as it is when the range starts at a multiple of
        ``count`` rounded up to a power of two. Returns the larger subtrees this completes,
        those reaching left of the range, lowest first (their stored-index order).
        """
        levels = [level for level in reversed(range(count.bit_length())) if count >> level & 1]
        if count < 0 or len(hashes) != len(levels):
            raise ProofError(f"{count} leaves are covered by {len(levels)} subtree hashes")
        if any(len(h) != HASH_SIZE for h in hashes):
            raise ProofError(f"subtree hashes must be {HASH_SIZE} bytes")
        # The largest subtree comes first; where it fits, each smaller one after it does.
        if levels and self._size & ((1 << levels[0]) - 1):
            raise ProofError(f"a subtree of 2**{levels[0]} leaves cannot start at {self._size}")
        completed = []
        for level, subtree in zip(levels, hashes, strict=True):
            h = bytes(subtree)
            index = self._size >> level
            merged = level
            while index & 1:
                h = node_hash(self._hashes.pop(), h)
                index >>= 1
                merged += 1
                completed.append((NodeID(merged, index), h))
            self._hashes.append(h)
            self._size += 1 << level
        return completed

    def _push(self, leaf_hash: bytes) -> list[bytes]:
        if len(leaf_hash) != HASH_SIZE:
            raise ProofError(f"leaf hash must be {HASH_SIZE} bytes")
        hashes = self._hashes
        completed = [leaf_hash]
        h = leaf_hash
        index = self._size
        # Each trailing one bit of the leaf index closes a perfect subtree with its left
        # neighbour on the edge (tlog StoredHashesForRecordHash).
        while index & 1:
            h = node_hash(hashes.pop(), h)
            completed.append(h)
            index >>= 1
        hashes.append(h)
        self._size += 1
        return completed

    def root(self) -> bytes:
        """The Merkle Tree Hash of the leaves so far (RFC 9162 §2.1.1)."""
        return _fold(self._hashes) if self._hashes else EMPTY_ROOT


def subtree_levels(leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
    """The hashes of every perfect subtree within a range of leaves, level by level:
    ``levels[k][i]`` covers leaves ``[i << k, (i + 1) << k)`` of the range.

    Each interior node is hashed once (n - 1 node hashes for n leaves), which costs less
    than appending leaf by leaf. Where the range starts at a multiple of its length rounded
    up to a power of two, these are the tree's own subtrees (RFC 9162 §2.1.1).
    """
    sha256 = hashlib.sha256
    levels = [list(leaf_hashes)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append(
            [
                sha256(_NODE_PREFIX + below[i] + below[i + 1]).digest()
                for i in range(0, len(below) - 1, 2)
            ]
        )
    return levels


def range_edges(
    leaf_hashes: Sequence[bytes],
    cuts: Iterable[int],
    *,
    levels: Sequence[Sequence[bytes]] | None = None,
) -> dict[int, list[bytes]]:
    """For each cut, the hashes of the perfect subtrees covering ``leaf_hashes[:cut]``,
    largest first: what :meth:`CompactRange.extend_range` takes.

    ``levels`` is :func:`subtree_levels` of the same leaves, when the caller has it.
    """
    if levels is None:
        levels = subtree_levels(leaf_hashes)
    edges: dict[int, list[bytes]] = {}
    for cut in cuts:
        if not 0 <= cut <= len(leaf_hashes):
            raise ProofError(f"cut {cut} is outside a range of {len(leaf_hashes)} leaves")
        edge = []
        offset = 0
        for level in reversed(range(cut.bit_length())):
            if cut >> level & 1:
                edge.append(levels[level][offset >> level])
                offset += 1 << level
        edges[cut] = edge
    return edges


def stored_order(levels: Sequence[Sequence[bytes]]) -> list[bytes]:
    """The hashes of :func:`subtree_levels`, in the order they are stored: each leaf, then
    the subtrees it completes, lowest first (:func:`stored_index`).

    For a range starting at a multiple of its length rounded up to a power of two, these
    are the stored hashes from ``stored_count(first)`` on, except the larger subtrees the
    range's last leaf completes with leaves before it, which come last.
    """
    ordered = []
    for offset, leaf in enumerate(levels[0]):
        ordered.append(leaf)
        done = offset + 1
        level = 1
        while not done & ((1 << level) - 1) and level < len(levels):
            ordered.append(levels[level][(done >> level) - 1])
            level += 1
    return ordered


def stored_order_nodes(*, first: int, count: int) -> list[NodeID]:
    """The nodes of :func:`stored_order` for leaves ``[first, first + count)``."""
    nodes = []
    for leaf in range(first, first + count):
        nodes.append(NodeID(0, leaf))
        done = leaf - first + 1
        level = 1
        while not done & ((1 << level) - 1) and (1 << level) <= count:
            nodes.append(NodeID(level, (leaf + 1 >> level) - 1))
            level += 1
    return nodes


@dataclass(frozen=True)
class ProofPlan:
    """Which stored hashes a proof needs and how to combine them.

    Each entry of ``parts`` is one proof hash: the hash of the range of leaves covered by
    those perfect subtrees, which is a single stored node except for a ragged right edge.
    ``nodes`` lists the distinct stored nodes to fetch.
    """

    parts: tuple[tuple[NodeID, ...], ...]
    nodes: tuple[NodeID, ...] = field(init=False)

    def __post_init__(self) -> None:
        distinct = dict.fromkeys(node for part in self.parts for node in part)
        object.__setattr__(self, "nodes", tuple(distinct))

    def assemble(self, hashes: Mapping[NodeID, bytes]) -> list[bytes]:
        """The proof, from the stored hashes of (at least) :attr:`nodes`."""
        try:
            return [_fold([hashes[node] for node in part]) for part in self.parts]
        except KeyError as missing:
            raise ProofError(f"no stored hash for {missing.args[0]}") from None


def inclusion_plan(*, index: int, size: int) -> ProofPlan:
    """The stored hashes for the audit path of leaf ``index`` in a tree of ``size``."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    # RFC 9162 §2.1.3.1, walked from the root down; the proof lists the leaf's end first
    outer_first = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            outer_first.append(_range_nodes(lo + k, hi))
            hi = lo + k
        else:
            outer_first.append(_range_nodes(lo, lo + k))
            lo += k
    return ProofPlan(parts=tuple(reversed(outer_first)))


def consistency_plan(*, old_size: int, new_size: int) -> ProofPlan:
    """The stored hashes for the proof that ``old_size`` is a prefix of ``new_size``.

    Equal sizes and an old size of zero give the empty proof, as
    :func:`audit.merkle.consistency_proof` does.
    """
    if not 0 <= old_size <= new_size:
        raise ProofError(f"cannot prove size {old_size} consistent with size {new_size}")
    if old_size in (0, new_size):
        return ProofPlan(parts=())
    # RFC 9162 §2.1.4.1 SUBPROOF, walked from the root down
    outer_first = []
    lo, hi, whole = 0, new_size, True
    while old_size != hi:
        k = _split(hi - lo)
        if old_size <= lo + k:
            outer_first.append(_range_nodes(lo + k, hi))
            hi = lo + k
        else:
            outer_first.append(_range_nodes(lo, lo + k))
            lo += k
            whole = False
    if not whole:
        # the old tree is not a single subtree of the new one, so its last piece is sent
        outer_first.append(_range_nodes(lo, hi))
    return ProofPlan(parts=tuple(reversed(outer_first)))


def root_from_stored(*, size: int, hashes: Mapping[NodeID, bytes]) -> bytes:
    """The root at ``size`` from the stored hashes of :meth:`CompactRange.nodes_of`."""
    try:
        edge = [hashes[node] for node in CompactRange.nodes_of(size)]
    except KeyError as missing:
        raise ProofError(f"no stored hash for {missing.args[0]}") from None
    return CompactRange.from_hashes(size=size, hashes=edge).root()
