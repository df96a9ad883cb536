"""A second, independent verifier for the audit log, written only from the standards.

It shares no code with :mod:`audit` so that a mistake there is not repeated here: the proof
checks follow RFC 9162 §2.1.3.2 and §2.1.4.2 step by step, and the note checks follow the
C2SP signed-note, tlog-checkpoint and tlog-cosignature texts. Other test suites import it to
check what the exchange serves.
"""

import base64
import hashlib
import re
from collections.abc import Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def _hash_children(left: bytes, right: bytes) -> bytes:
    # RFC 9162 §2.1.1: MTH(D[n]) = HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n]))
    return hashlib.sha256(bytes([1]) + left + right).digest()


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2, "Verifying an Inclusion Proof"."""
    # 1. Compare leaf_index against tree_size. If leaf_index is greater than or equal to
    #    tree_size, then fail the proof verification.
    if index < 0 or index >= size:
        return False
    # 2. Set fn to leaf_index and sn to tree_size - 1.
    fn = index
    sn = size - 1
    # 3. Set r to hash.
    r = leaf_hash
    # 4. For each value p in the inclusion_path array:
    for p in proof:
        # a. If sn is 0, then stop the iteration and fail the proof verification.
        if sn == 0:
            return False
        # b. If LSB(fn) is set, or if fn is equal to sn, then:
        if fn % 2 == 1 or fn == sn:
            # i. Set r to HASH(0x01 || p || r).
            r = _hash_children(p, r)
            # ii. If LSB(fn) is not set, then right-shift both fn and sn equally until
            #     either LSB(fn) is set or fn is 0.
            while fn % 2 == 0 and fn != 0:
                fn //= 2
                sn //= 2
        # Otherwise: i. Set r to HASH(0x01 || r || p).
        else:
            r = _hash_children(r, p)
        # c. Finally, right-shift both fn and sn one time.
        fn //= 2
        sn //= 2
    # 5. Compare sn to 0. Compare r against the root_hash. If sn is equal to 0 and r and
    #    the root_hash are equal, then the log has proven the inclusion of hash.
    return sn == 0 and r == root and len(root) == 32


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2, "Verifying Consistency between Two Tree Heads".

    The RFC defines proofs for 0 < first < second. Outside that range the tlog convention
    applies: a tree of size n is consistent with itself when the roots match and nothing is
    sent, and a proof from the empty tree is refused because it proves nothing.
    """
    first, second = old_size, new_size
    if first == second and first > 0:
        return len(proof) == 0 and old_root == new_root
    if not 0 < first < second:
        return False
    # 1. If consistency_path is an empty array, stop and fail the proof verification.
    if len(proof) == 0:
        return False
    # 2. If first is an exact power of 2, then prepend first_hash to the consistency_path.
    path = list(proof)
    if first & (first - 1) == 0:
        path = [old_root, *path]
    # 3. Set fn to first - 1 and sn to second - 1.
    fn = first - 1
    sn = second - 1
    # 4. If LSB(fn) is set, then right-shift both fn and sn equally until LSB(fn) is not set.
    while fn % 2 == 1:
        fn //= 2
        sn //= 2
    # 5. Set both fr and sr to the first value in the consistency_path array.
    fr = path[0]
    sr = path[0]
    # 6. For each subsequent value c in the consistency_path array:
    for c in path[1:]:
        # a. If sn is 0, then stop the iteration and fail the proof verification.
        if sn == 0:
            return False
        # b. If LSB(fn) is set, or if fn is equal to sn, then:
        if fn % 2 == 1 or fn == sn:
            # i. Set fr to HASH(0x01 || c || fr).  ii. Set sr to HASH(0x01 || c || sr).
            fr = _hash_children(c, fr)
            sr = _hash_children(c, sr)
            # iii. If LSB(fn) is not set, then right-shift both fn and sn equally until
            #      either LSB(fn) is set or fn is 0.
            while fn % 2 == 0 and fn != 0:
                fn //= 2
                sn //= 2
        # Otherwise: i. Set sr to HASH(0x01 || sr || c).
        else:
            sr = _hash_children(sr, c)
        # c. Finally, right-shift both fn and sn one time.
        fn //= 2
        sn //= 2
    # 7. Verify that fr equals first_hash, that sr equals second_hash, and that sn is 0.
    return fr == old_root and sr == new_root and sn == 0


def _strict_b64(text: str) -> bytes:
    decoded = base64.b64decode(text, validate=True)
    if base64.b64encode(decoded).decode() != text:
        raise ValueError("base64 is not canonical")
    return decoded


def _verifier(verifier_key: str) -> tuple[str, bytes, int, Ed25519PublicKey]:
    # C2SP signed-note verifier keys: name "+" hex key ID "+" base64(type || public key);
    # the key ID is SHA-256(name || 0x0A || type || public key)[:4].
    match = re.fullmatch(r"([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)", verifier_key)
    if match is None:
        raise ValueError("not a verifier key")
    name, hex_id, encoded = match.groups()
    material = _strict_b64(encoded)
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + material).digest()
    if digest[:4].hex() != hex_id or len(material) != 33:
        raise ValueError("verifier key ID or length is wrong")
    return name, digest[:4], material[0], Ed25519PublicKey.from_public_bytes(material[1:])


def _split_note(note: bytes) -> tuple[str, list[str]]:
    text = note.decode("utf-8")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise ValueError("control character in note")
    # the text is separated from the signatures by the last empty line
    body, separator, signatures = text.rpartition("\n\n")
    if not separator or not signatures.endswith("\n"):
        raise ValueError("no signature block")
    return body + "\n", signatures[:-1].split("\n")


def _signature_bytes(line: str, name: str, key_id: bytes) -> bytes | None:
    if not line.startswith("\u2014 "):
        raise ValueError("signature line without em dash")
    line_name, _, encoded = line[2:].partition(" ")
    raw = _strict_b64(encoded)
    if line_name != name or raw[:4] != key_id:
        return None
    return raw[4:]


def verify_checkpoint_note(note: bytes, verifier_key: str) -> tuple[str, int, bytes]:
    """Check the log's Ed25519 signature on a checkpoint; return (origin, size, root hash).

    Raises ValueError when the note is malformed, unsigned by the key, or signed wrongly.
    """
    name, key_id, sig_type, public_key = _verifier(verifier_key)
    if sig_type != 0x01:
        raise ValueError("not an Ed25519 signed-note key")
    body, lines = _split_note(note)
    signed = False
    for line in lines:
        signature = _signature_bytes(line, name, key_id)
        if signature is None:
            continue
        try:
            public_key.verify(signature, body.encode("utf-8"))
        except InvalidSignature:
            raise ValueError("bad signature by the log key") from None
        signed = True
    if not signed:
        raise ValueError("no signature by the log key")
    # C2SP tlog-checkpoint: origin, decimal size without leading zeroes, base64 root hash
    origin, size, root, *_ = [*body[:-1].split("\n"), "", "", ""]
    if not origin or not re.fullmatch(r"0|[1-9][0-9]*", size):
        raise ValueError("malformed checkpoint")
    root_hash = _strict_b64(root)
    if len(root_hash) != 32:
        raise ValueError("root hash is not 32 bytes")
    return origin, int(size), root_hash


def verify_cosignature_line(line: str, *, checkpoint_body: bytes, verifier_key: str) -> int:
    """Check one witness cosignature line (with or without its newline); return its time.

    C2SP tlog-cosignature: the signature is u64 big-endian timestamp || Ed25519 signature
    over "cosignature/v1\\n" "time <decimal>\\n" followed by the checkpoint body.
    """
    name, key_id, sig_type, public_key = _verifier(verifier_key)
    if sig_type != 0x04:
        raise ValueError("not a cosignature key")
    signature = _signature_bytes(line.rstrip("\n"), name, key_id)
    if signature is None or len(signature) != 8 + 64:
        raise ValueError("not a cosignature by this witness")
    timestamp = int.from_bytes(signature[:8], "big")
    message = f"cosignature/v1\ntime {timestamp}\n".encode() + checkpoint_body
    try:
        public_key.verify(signature[8:], message)
    except InvalidSignature:
        raise ValueError("bad cosignature") from None
    return timestamp
