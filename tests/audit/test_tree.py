"""Stored subtree hashes (audit.tree) against the reference generators of audit.merkle."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.errors import ProofError
from audit.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from audit.tree import (
    CompactRange,
    NodeID,
    consistency_plan,
    inclusion_plan,
    range_edges,
    root_from_stored,
    stored_count,
    stored_index,
    stored_order,
    stored_order_nodes,
    subtree_levels,
)

MAX_SIZE = 300
LEAVES = [leaf_hash(b"entry %d" % i) for i in range(MAX_SIZE)]


def _store_all() -> dict[NodeID, bytes]:
    tree = CompactRange.empty()
    stored: dict[NodeID, bytes] = {}
    for leaf in LEAVES:
        stored.update(tree.append(leaf))
    return stored


STORED = _store_all()


def _go_stored_hash_index(level: int, n: int) -> int:
    # golang.org/x/mod/sumdb/tlog StoredHashIndex, line for line
    for _ in range(level):
        n = 2 * n + 1
    i = 0
    while n > 0:
        i += n
        n >>= 1
    return i + level


def _go_stored_hash_count(n: int) -> int:
    # golang.org/x/mod/sumdb/tlog StoredHashCount, line for line
    if n == 0:
        return 0
    num_hash = _go_stored_hash_index(0, n - 1) + 1
    i = n - 1
    while i & 1:
        num_hash += 1
        i >>= 1
    return num_hash


def _perfect_nodes(size: int) -> list[NodeID]:
    return [
        NodeID(level, index) for level in range(size.bit_length()) for index in range(size >> level)
    ]


class TestStoredIndex:
    def test_matches_go_tlog(self) -> None:
        for node in _perfect_nodes(1 << 10):
            assert stored_index(node) == _go_stored_hash_index(node.level, node.index)
        for size in range(2000):
            assert stored_count(size) == _go_stored_hash_count(size)

    @pytest.mark.parametrize("size", range(MAX_SIZE + 1))
    def test_is_a_bijection_onto_the_stored_range(self, size: int) -> None:
        indexes = sorted(stored_index(node) for node in _perfect_nodes(size))
        assert indexes == list(range(stored_count(size)))

    def test_append_returns_the_next_stored_indexes(self) -> None:
        tree = CompactRange.empty()
        for size, leaf in enumerate(LEAVES):
            completed = tree.append(leaf)
            assert completed[0] == (NodeID(0, size), leaf)
            assert [stored_index(node) for node, _ in completed] == list(
                range(stored_count(size), stored_count(size + 1))
            )

    def test_rejects_negative_coordinates(self) -> None:
        with pytest.raises(ProofError):
            stored_index(NodeID(-1, 0))
        with pytest.raises(ProofError):
            stored_count(-1)


class TestCompactRange:
    def test_roots_match_the_reference(self) -> None:
        tree = CompactRange.empty()
        assert tree.root() == EMPTY_ROOT
        for size, leaf in enumerate(LEAVES, start=1):
            tree.append(leaf)
            assert tree.size == size
            assert tree.root() == root_from_leaf_hashes(LEAVES[:size])
            assert len(tree.hashes) == size.bit_count()

    def test_stored_hashes_are_subtree_roots(self) -> None:
        for node, value in STORED.items():
            first = node.index << node.level
            assert value == root_from_leaf_hashes(LEAVES[first : first + (1 << node.level)])

    def test_nodes_of(self) -> None:
        assert CompactRange.nodes_of(0) == []
        assert CompactRange.nodes_of(13) == [NodeID(3, 0), NodeID(2, 2), NodeID(0, 12)]

    def test_resumes_from_stored_hashes(self) -> None:
        for size in (0, 1, 6, 13, 64, 255):
            edge = [STORED[node] for node in CompactRange.nodes_of(size)]
            tree = CompactRange.from_hashes(size=size, hashes=edge)
            assert tree.root() == root_from_leaf_hashes(LEAVES[:size])
            tree.append(LEAVES[size])
            assert tree.root() == root_from_leaf_hashes(LEAVES[: size + 1])

    def test_from_hashes_checks_the_shape(self) -> None:
        with pytest.raises(ProofError):
            CompactRange.from_hashes(size=3, hashes=[LEAVES[0]])
        with pytest.raises(ProofError):
            CompactRange.from_hashes(size=1, hashes=[b"short"])
        with pytest.raises(ProofError):
            CompactRange.empty().append(b"short")

    def test_appending_many_leaves(self) -> None:
        # Sanity, not a benchmark: integrating 100,000 leaves is cheap and stays correct.
        many = [leaf_hash(i.to_bytes(4, "big")) for i in range(100_000)]
        tree = CompactRange.empty()
        for leaf in many:
            tree.append(leaf)
        assert tree.root() == root_from_leaf_hashes(many)
        verifier = CompactRange.empty()
        verifier.extend(many)
        assert (verifier.size, verifier.hashes) == (tree.size, tree.hashes)


class TestRanges:
    @given(st.integers(0, 3), st.lists(st.integers(0, 64), max_size=4))
    def test_a_range_extends_as_its_leaves_would(self, start_block: int, cuts: list[int]) -> None:
        # Ranges of up to 64 leaves starting at multiples of 64, each cut checked against
        # the reference root of every leaf before it.
        start = start_block * 64
        leaves = LEAVES[start : start + 64]
        edges = range_edges(leaves, [*cuts, len(leaves)])
        for cut in cuts:
            tree = CompactRange.from_hashes(
                size=start, hashes=[STORED[node] for node in CompactRange.nodes_of(start)]
            )
            tree.extend_range(cut, edges[cut])
            assert tree.size == start + cut
            assert tree.root() == root_from_leaf_hashes(LEAVES[: start + cut])
        whole = CompactRange.empty()
        whole.extend(LEAVES[:start])
        whole.extend_range(len(leaves), edges[len(leaves)])
        stepwise = CompactRange.empty()
        stepwise.extend(LEAVES[: start + len(leaves)])
        assert (whole.size, whole.hashes) == (stepwise.size, stepwise.hashes)

    def test_edges_are_stored_subtree_hashes(self) -> None:
        edges = range_edges(LEAVES[:256], [13, 256])
        assert edges[13] == [STORED[node] for node in CompactRange.nodes_of(13)]
        assert edges[256] == [STORED[NodeID(8, 0)]]
        assert range_edges([], [0]) == {0: []}

    @given(st.integers(0, 7), st.integers(1, 32))
    def test_a_range_lists_its_stored_hashes_in_stored_order(
        self, start_block: int, count: int
    ) -> None:
        # A range of up to 32 leaves at a multiple of 32: its subtrees are the stored
        # hashes from stored_count(first) on, in order; those its last leaf completes
        # with earlier leaves follow them, and extend_range returns exactly those.
        first = start_block * 32
        levels = subtree_levels(LEAVES[first : first + count])
        nodes = stored_order_nodes(first=first, count=count)
        assert stored_order(levels) == [STORED[node] for node in nodes]
        assert [stored_index(node) for node in nodes] == list(
            range(stored_count(first), stored_count(first) + len(nodes))
        )
        tree = CompactRange.from_hashes(
            size=first, hashes=[STORED[node] for node in CompactRange.nodes_of(first)]
        )
        completed = tree.extend_range(count, range_edges(LEAVES[first:], [count])[count])
        assert [stored_index(node) for node, _ in completed] == list(
            range(stored_count(first) + len(nodes), stored_count(first + count))
        )
        assert all(STORED[node] == digest for node, digest in completed)

    def test_refuses_subtrees_that_do_not_fit(self) -> None:
        tree = CompactRange.empty()
        tree.extend(LEAVES[:3])
        with pytest.raises(ProofError, match="cannot start at 3"):
            tree.extend_range(2, [STORED[NodeID(1, 0)]])
        with pytest.raises(ProofError, match="covered by"):
            tree.extend_range(3, [LEAVES[0]])
        with pytest.raises(ProofError, match="32 bytes"):
            tree.extend_range(1, [b"short"])
        with pytest.raises(ProofError, match="outside"):
            range_edges(LEAVES[:4], [5])
        # Nothing was added by a refused range.
        assert tree.size == 3


@st.composite
def _index_in_tree(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, MAX_SIZE))
    return draw(st.integers(0, size - 1)), size


@st.composite
def _two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(st.integers(0, MAX_SIZE))
    return draw(st.integers(0, new)), new


def _log_bound(size: int) -> int:
    return 2 * max(size.bit_length(), 1)


class TestProofPlans:
    @given(_index_in_tree())
    def test_inclusion_plan_matches_reference(self, case: tuple[int, int]) -> None:
        index, size = case
        plan = inclusion_plan(index=index, size=size)
        assert len(plan.nodes) <= _log_bound(size)
        proof = plan.assemble(STORED)
        assert proof == inclusion_proof(index, size, LEAVES)
        verify_inclusion(
            leaf_hash=LEAVES[index],
            index=index,
            size=size,
            proof=proof,
            root=root_from_stored(size=size, hashes=STORED),
        )

    def test_every_inclusion_plan_up_to_64(self) -> None:
        for size in range(1, 65):
            for index in range(size):
                proof = inclusion_plan(index=index, size=size).assemble(STORED)
                assert proof == inclusion_proof(index, size, LEAVES)

    @given(_two_sizes())
    def test_consistency_plan_matches_reference(self, sizes: tuple[int, int]) -> None:
        old, new = sizes
        plan = consistency_plan(old_size=old, new_size=new)
        assert len(plan.nodes) <= _log_bound(new)
        proof = plan.assemble(STORED)
        assert proof == consistency_proof(old, new, LEAVES)
        if old:
            verify_consistency(
                old_size=old,
                new_size=new,
                old_root=root_from_stored(size=old, hashes=STORED),
                new_root=root_from_stored(size=new, hashes=STORED),
                proof=proof,
            )

    def test_every_consistency_plan_up_to_64(self) -> None:
        for new in range(65):
            for old in range(new + 1):
                proof = consistency_plan(old_size=old, new_size=new).assemble(STORED)
                assert proof == consistency_proof(old, new, LEAVES)

    def test_ragged_right_subtree_is_rehashed(self) -> None:
        # Leaf 0 of 7: the sibling of [0, 4) is [4, 7), two stored nodes hashed together.
        plan = inclusion_plan(index=0, size=7)
        assert plan.parts[-1] == (NodeID(1, 2), NodeID(0, 6))
        assert plan.nodes == (NodeID(0, 1), NodeID(1, 1), NodeID(1, 2), NodeID(0, 6))

    def test_roots_of_every_past_size(self) -> None:
        for size in range(MAX_SIZE + 1):
            assert root_from_stored(size=size, hashes=STORED) == root_from_leaf_hashes(
                LEAVES[:size]
            )

    @pytest.mark.parametrize(("index", "size"), [(0, 0), (5, 5), (-1, 3)])
    def test_inclusion_plan_rejects(self, index: int, size: int) -> None:
        with pytest.raises(ProofError):
            inclusion_plan(index=index, size=size)

    @pytest.mark.parametrize(("old", "new"), [(5, 4), (-1, 3)])
    def test_consistency_plan_rejects(self, old: int, new: int) -> None:
        with pytest.raises(ProofError):
            consistency_plan(old_size=old, new_size=new)

    def test_missing_stored_hash(self) -> None:
        plan = inclusion_plan(index=0, size=8)
        with pytest.raises(ProofError, match="no stored hash"):
            plan.assemble({})
        with pytest.raises(ProofError, match="no stored hash"):
            root_from_stored(size=3, hashes={})
