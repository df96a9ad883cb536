"""RFC 9162 hashing, proof generation and verification in audit.merkle."""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.errors import ProofError
from audit.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from tests.audit.vectors import (
    KNOWN_EMPTY_ROOT,
    KNOWN_LEAVES,
    KNOWN_ROOT_5,
    KNOWN_ROOT_8,
    b64,
    hashes,
    merkle_cases,
)

LEAVES = [leaf_hash(i.to_bytes(4, "big")) for i in range(300)]


def _inclusion(case: dict[str, Any]) -> None:
    verify_inclusion(
        leaf_hash=b64(case["leafHash"]),
        index=case["leafIdx"],
        size=case["treeSize"],
        proof=hashes(case["proof"]),
        root=b64(case["root"]),
    )


def _consistency(case: dict[str, Any]) -> None:
    verify_consistency(
        old_size=case["size1"],
        new_size=case["size2"],
        old_root=b64(case["root1"]),
        new_root=b64(case["root2"]),
        proof=hashes(case["proof"]),
    )


class TestTestData:
    @pytest.mark.parametrize("case", merkle_cases("inclusion"))
    def test_inclusion(self, case: dict[str, Any]) -> None:
        if case["wantErr"]:
            with pytest.raises(ProofError):
                _inclusion(case)
        else:
            _inclusion(case)

    @pytest.mark.parametrize("case", merkle_cases("consistency"))
    def test_consistency(self, case: dict[str, Any]) -> None:
        if case["wantErr"]:
            with pytest.raises(ProofError):
                _consistency(case)
        else:
            _consistency(case)

    def test_known_roots(self) -> None:
        leaves = [leaf_hash(data) for data in KNOWN_LEAVES]
        assert EMPTY_ROOT == KNOWN_EMPTY_ROOT == root_from_leaf_hashes([])
        assert root_from_leaf_hashes(leaves[:5]) == KNOWN_ROOT_5
        assert root_from_leaf_hashes(leaves) == KNOWN_ROOT_8


class TestHashes:
    def test_domain_separation(self) -> None:
        # RFC 9162 §2.1.1: a leaf and a node over the same bytes hash differently
        left, right = bytes(32), bytes([1] * 32)
        assert leaf_hash(left + right) != node_hash(left, right)
        assert root_from_leaf_hashes([left, right]) == node_hash(left, right)

    def test_unbalanced_tree_splits_at_largest_power_of_two(self) -> None:
        a, b, c = LEAVES[:3]
        assert root_from_leaf_hashes([a, b, c]) == node_hash(node_hash(a, b), c)


@st.composite
def _index_in_tree(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, len(LEAVES)))
    return draw(st.integers(0, size - 1)), size


@st.composite
def _two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(st.integers(1, len(LEAVES)))
    return draw(st.integers(1, new)), new


class TestReferenceProofs:
    @given(_index_in_tree())
    def test_inclusion_proof_verifies(self, case: tuple[int, int]) -> None:
        index, size = case
        proof = inclusion_proof(index, size, LEAVES)
        root = root_from_leaf_hashes(LEAVES[:size])
        verify_inclusion(leaf_hash=LEAVES[index], index=index, size=size, proof=proof, root=root)
        if size > 1:
            with pytest.raises(ProofError):
                other = (index + 1) % size
                verify_inclusion(
                    leaf_hash=LEAVES[index], index=other, size=size, proof=proof, root=root
                )

    @given(_two_sizes(), st.data())
    def test_consistency_proof_verifies(self, sizes: tuple[int, int], data: st.DataObject) -> None:
        old, new = sizes
        proof = consistency_proof(old, new, LEAVES)
        old_root = root_from_leaf_hashes(LEAVES[:old])
        new_root = root_from_leaf_hashes(LEAVES[:new])
        verify_consistency(
            old_size=old, new_size=new, old_root=old_root, new_root=new_root, proof=proof
        )
        if proof:
            broken = list(proof)
            at = data.draw(st.integers(0, len(proof) - 1))
            broken[at] = bytes(32)
            with pytest.raises(ProofError):
                verify_consistency(
                    old_size=old, new_size=new, old_root=old_root, new_root=new_root, proof=broken
                )

    def test_consistency_from_empty_tree_is_empty_but_refused(self) -> None:
        assert consistency_proof(0, 5, LEAVES) == []
        with pytest.raises(ProofError, match="empty tree"):
            verify_consistency(
                old_size=0,
                new_size=5,
                old_root=EMPTY_ROOT,
                new_root=root_from_leaf_hashes(LEAVES[:5]),
                proof=[],
            )

    @pytest.mark.parametrize(("index", "size"), [(-1, 3), (3, 3), (0, 0)])
    def test_inclusion_proof_of_missing_leaf(self, index: int, size: int) -> None:
        with pytest.raises(ProofError):
            inclusion_proof(index, size, LEAVES)

    def test_proofs_need_the_leaves(self) -> None:
        with pytest.raises(ProofError):
            inclusion_proof(0, 4, LEAVES[:3])
        with pytest.raises(ProofError):
            consistency_proof(4, 2, LEAVES)

    def test_short_hashes_are_refused(self) -> None:
        proof = inclusion_proof(0, 2, LEAVES)
        root = root_from_leaf_hashes(LEAVES[:2])
        with pytest.raises(ProofError, match="bytes"):
            verify_inclusion(leaf_hash=LEAVES[0], index=0, size=2, proof=[proof[0][:31]], root=root)


def test_the_copied_test_data_is_the_shared_one() -> None:
    from tests.audit.vectors import SHARED_MERKLE_TESTDATA, VENDORED_MERKLE_TESTDATA

    if not SHARED_MERKLE_TESTDATA.is_dir():
        pytest.skip("no shared folder beside this checkout")
    shared = {
        p.relative_to(SHARED_MERKLE_TESTDATA): p.read_bytes()
        for p in SHARED_MERKLE_TESTDATA.rglob("*")
        if p.is_file()
    }
    copied = {
        p.relative_to(VENDORED_MERKLE_TESTDATA): p.read_bytes()
        for p in VENDORED_MERKLE_TESTDATA.rglob("*")
        if p.is_file()
    }
    assert copied == shared
