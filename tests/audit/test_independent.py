"""The independent verifier against the test data, and cross-checked against audit."""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.checkpoint import Checkpoint
from audit.cosignature import CosignatureSigner
from audit.errors import ProofError
from audit.merkle import (
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from audit.note import NoteSigner, add_signatures, sign_note
from tests.audit import independent
from tests.audit.vectors import (
    ARCHE_BODY,
    ARCHE_COSIGNATURE_TIME,
    ARCHE_LOG_KEY,
    ARCHE_NOTE,
    ARCHE_WITNESS_KEYS,
    b64,
    hashes,
    merkle_cases,
)

LEAVES = [leaf_hash(b"%d" % i) for i in range(200)]


class TestTestData:
    @pytest.mark.parametrize("case", merkle_cases("inclusion"))
    def test_inclusion(self, case: dict[str, Any]) -> None:
        ok = independent.verify_inclusion(
            b64(case["leafHash"]),
            case["leafIdx"],
            case["treeSize"],
            hashes(case["proof"]),
            b64(case["root"]),
        )
        assert ok is not case["wantErr"]

    @pytest.mark.parametrize("case", merkle_cases("consistency"))
    def test_consistency(self, case: dict[str, Any]) -> None:
        ok = independent.verify_consistency(
            case["size1"],
            case["size2"],
            b64(case["root1"]),
            b64(case["root2"]),
            hashes(case["proof"]),
        )
        assert ok is not case["wantErr"]


def _mutate(proof: list[bytes], data: st.DataObject) -> list[bytes]:
    choice = data.draw(st.sampled_from(["keep", "flip", "drop", "add", "swap"]))
    proof = list(proof)
    if choice == "flip" and proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        proof[at] = bytes([proof[at][0] ^ 1]) + proof[at][1:]
    elif choice == "drop" and proof:
        proof.pop(data.draw(st.integers(0, len(proof) - 1)))
    elif choice == "add":
        proof.insert(data.draw(st.integers(0, len(proof))), LEAVES[0])
    elif choice == "swap" and len(proof) > 1:
        proof[0], proof[1] = proof[1], proof[0]
    return proof


def _audit_accepts(check: Any, **kwargs: Any) -> bool:
    try:
        check(**kwargs)
    except ProofError:
        return False
    return True


class TestAgreesWithAudit:
    @given(st.data())
    def test_inclusion(self, data: st.DataObject) -> None:
        size = data.draw(st.integers(1, len(LEAVES)))
        index = data.draw(st.integers(0, size - 1))
        proof = _mutate(inclusion_proof(index, size, LEAVES), data)
        claimed_index = data.draw(st.sampled_from([index, index + 1, index - 1, size]))
        claimed_size = data.draw(st.sampled_from([size, size + 1, size - 1, 2 * size]))
        root = root_from_leaf_hashes(LEAVES[:size])
        expected = independent.verify_inclusion(
            LEAVES[index], claimed_index, claimed_size, proof, root
        )
        assert expected == _audit_accepts(
            verify_inclusion,
            leaf_hash=LEAVES[index],
            index=claimed_index,
            size=claimed_size,
            proof=proof,
            root=root,
        )

    @given(st.data())
    def test_consistency(self, data: st.DataObject) -> None:
        new = data.draw(st.integers(0, len(LEAVES)))
        old = data.draw(st.integers(0, new))
        proof = _mutate(consistency_proof(old, new, LEAVES), data)
        claimed_old = data.draw(st.sampled_from([old, old + 1, max(old - 1, 0)]))
        old_root = root_from_leaf_hashes(LEAVES[:old])
        new_root = root_from_leaf_hashes(LEAVES[:new])
        expected = independent.verify_consistency(claimed_old, new, old_root, new_root, proof)
        assert expected == _audit_accepts(
            verify_consistency,
            old_size=claimed_old,
            new_size=new,
            old_root=old_root,
            new_root=new_root,
            proof=proof,
        )
        if old and (claimed_old, proof) == (old, consistency_proof(old, new, LEAVES)):
            assert expected


class TestNotes:
    def test_published_checkpoint(self) -> None:
        origin, size, root = independent.verify_checkpoint_note(ARCHE_NOTE, ARCHE_LOG_KEY)
        assert (origin, size) == ("arche2025h1.staging.ct.transparency.dev", 1432088532)
        assert root == Checkpoint.parse(ARCHE_BODY).root
        lines = ARCHE_NOTE.decode().splitlines()[-4:]
        for line, key in zip(lines, ARCHE_WITNESS_KEYS, strict=True):
            timestamp = independent.verify_cosignature_line(
                line, checkpoint_body=ARCHE_BODY, verifier_key=key
            )
            assert timestamp == ARCHE_COSIGNATURE_TIME

    def test_audit_checkpoint_and_cosignature(self) -> None:
        log, witness = NoteSigner.generate("example.com/log"), CosignatureSigner.generate("w")
        checkpoint = Checkpoint(origin="example.com/log", size=3, root=bytes(32))
        body = checkpoint.body()
        cosignature = witness.sign(body, timestamp=1_700_000_000)
        note = add_signatures(sign_note(body, signers=[log]), [cosignature])
        assert independent.verify_checkpoint_note(note, log.verifier_key()) == (
            "example.com/log",
            3,
            bytes(32),
        )
        line = cosignature.line().decode()
        assert (
            independent.verify_cosignature_line(
                line, checkpoint_body=body, verifier_key=witness.verifier_key()
            )
            == 1_700_000_000
        )
        with pytest.raises(ValueError):
            independent.verify_checkpoint_note(note.replace(b"\n3\n", b"\n4\n"), log.verifier_key())
        with pytest.raises(ValueError):
            independent.verify_checkpoint_note(note, NoteSigner.generate("x").verifier_key())
        with pytest.raises(ValueError):
            independent.verify_cosignature_line(
                line,
                checkpoint_body=body.replace(b"\n3\n", b"\n4\n"),
                verifier_key=witness.verifier_key(),
            )
