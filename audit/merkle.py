"""RFC 9162 §2.1 Merkle tree hashes, proofs and their verification, over SHA-256.

The generators here work from the full list of leaf hashes, in O(n): they are the reference
the stored-subtree code in :mod:`audit.tree` is tested against, and are fine for small logs.
"""

import hashlib
import hmac
from collections.abc import Sequence

from audit.errors import ProofError

HASH_SIZE = 32
# RFC 9162 §2.1.1: the hash of an empty list is the hash of an empty string
EMPTY_ROOT = hashlib.sha256(b"").digest()

# RFC 9162 §2.1.1: domain separation between leaves and interior nodes (second preimages)
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """MTH({d(0)}) = HASH(0x00 || d(0))."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """HASH(0x01 || left || right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    # RFC 9162 §2.1.1: k is the largest power of two smaller than n (n > 1)
    return 1 << ((n - 1).bit_length() - 1)


def _mth(hashes: Sequence[bytes], lo: int, hi: int) -> bytes:
    if hi - lo == 1:
        return hashes[lo]
    k = _split(hi - lo)
    return node_hash(_mth(hashes, lo, lo + k), _mth(hashes, lo + k, hi))


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash of the leaves whose leaf hashes are given (RFC 9162 §2.1.1)."""
    if not hashes:
        return EMPTY_ROOT
    return _mth(hashes, 0, len(hashes))


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} is {len(value)} bytes, not {HASH_SIZE}")


def verify_inclusion(
    *, leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` with ``root``."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    _check_hash(leaf_hash, "leaf hash")
    _check_hash(root, "root hash")
    for node in proof:
        _check_hash(node, "proof hash")
    # RFC 9162 §2.1.3.2
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    if not hmac.compare_digest(r, root):
        raise ProofError("inclusion proof does not lead to the root hash")


def verify_consistency(
    *, old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``new_size`` with ``new_root`` extends the older one."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"cannot prove size {old_size} consistent with size {new_size}")
    if old_size == 0:
        # An empty tree is a prefix of every tree, so the proof would show nothing: refused
        # as golang.org/x/mod/sumdb/tlog CheckTree and the transparency-dev test data do.
        # A tlog-witness taking "old 0" checks its empty proof before getting here.
        raise ProofError("a consistency proof from the empty tree proves nothing")
    if old_size == new_size:
        # RFC 9162 §2.1.4.1 defines proofs for m < n only; a tree is consistent with itself
        # when it has the same root, and anything in the proof would be unexplained.
        if proof:
            raise ProofError("the sizes are equal but the proof is not empty")
        if not hmac.compare_digest(old_root, new_root):
            raise ProofError("the sizes are equal but the roots differ")
        return
    for node in proof:
        _check_hash(node, "proof hash")
    # RFC 9162 §2.1.4.2
    if not proof:
        raise ProofError("consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    old_ok = hmac.compare_digest(fr, old_root)
    new_ok = hmac.compare_digest(sr, new_root)
    if not (old_ok and new_ok):
        raise ProofError("consistency proof does not lead to both roots")


def _leaves(leaf_hashes: Sequence[bytes], size: int) -> Sequence[bytes]:
    if size > len(leaf_hashes):
        raise ProofError(f"tree of size {size} but only {len(leaf_hashes)} leaf hashes")
    return leaf_hashes


def _path(m: int, lo: int, hi: int, hashes: Sequence[bytes]) -> list[bytes]:
    # RFC 9162 §2.1.3.1: PATH(m, D[n])
    if hi - lo == 1:
        return []
    k = _split(hi - lo)
    if m < lo + k:
        return [*_path(m, lo, lo + k, hashes), _mth(hashes, lo + k, hi)]
    return [*_path(m, lo + k, hi, hashes), _mth(hashes, lo, lo + k)]


def inclusion_proof(index: int, size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of the first ``size`` leaves."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    return _path(index, 0, size, _leaves(leaf_hashes, size))


def _subproof(m: int, lo: int, hi: int, whole: bool, hashes: Sequence[bytes]) -> list[bytes]:
    # RFC 9162 §2.1.4.1: SUBPROOF(m, D[n], b), with m an absolute leaf count
    if m == hi:
        return [] if whole else [_mth(hashes, lo, hi)]
    k = _split(hi - lo)
    if m <= lo + k:
        return [*_subproof(m, lo, lo + k, whole, hashes), _mth(hashes, lo + k, hi)]
    return [*_subproof(m, lo + k, hi, False, hashes), _mth(hashes, lo, lo + k)]


def consistency_proof(old: int, new: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """The proof that the tree of ``old`` leaves is a prefix of the tree of ``new``.

    Equal sizes and an old size of zero give the empty proof (C2SP tlog-witness: "The proof
    MUST be empty if the old size is zero").
    """
    if not 0 <= old <= new:
        raise ProofError(f"cannot prove size {old} consistent with size {new}")
    hashes = _leaves(leaf_hashes, new)
    if old == 0 or old == new:
        return []
    return _subproof(old, 0, new, True, hashes)
