"""C2SP tlog-cosignature: timestamped Ed25519 witness cosignatures (type 0x04)."""

import pytest

from audit._codec import b64decode
from audit.checkpoint import Checkpoint
from audit.cosignature import CosignatureSigner, cosignature_verifier_key, verify_cosignature
from audit.errors import CheckpointError, NoteError, SignatureError, UnknownKeyError
from audit.note import Note, NoteSignature, NoteSigner, NoteVerifier, open_note
from tests.audit.vectors import (
    ARCHE_BODY,
    ARCHE_COSIGNATURE_TIME,
    ARCHE_LOG_KEY,
    ARCHE_NOTE,
    ARCHE_WITNESS_KEYS,
    PETER_KEY,
    REMORA_KEY,
    TIMESTAMPED_SIGNATURE,
    TIMESTAMPED_SIGNATURE_TIME,
)

BODY = Checkpoint(origin="example.com/log", size=7, root=bytes(32)).body()


def _signature_by(note: Note, verifier: NoteVerifier) -> NoteSignature:
    (signature,) = [
        s for s in note.signatures if (s.name, s.key_id) == (verifier.name, verifier.key_id)
    ]
    return signature


class TestPublishedCheckpoint:
    def test_log_signature(self) -> None:
        # the 0x05 signature by the same name is an unknown key and is ignored
        note = open_note(ARCHE_NOTE, verifiers=[NoteVerifier.from_verifier_key(ARCHE_LOG_KEY)])
        assert note.text == ARCHE_BODY
        assert len(note.signatures) == 6

    @pytest.mark.parametrize("witness_key", ARCHE_WITNESS_KEYS)
    def test_witness_cosignatures(self, witness_key: str) -> None:
        witness = NoteVerifier.from_verifier_key(witness_key)
        signature = _signature_by(Note.parse(ARCHE_NOTE), witness)
        timestamp = verify_cosignature(
            verifier_key=witness_key, checkpoint_body=ARCHE_BODY, signature=signature
        )
        assert timestamp == ARCHE_COSIGNATURE_TIME
        with pytest.raises(SignatureError):
            verify_cosignature(
                verifier_key=witness,
                checkpoint_body=ARCHE_BODY.replace(b"1432088532", b"1432088533"),
                signature=signature,
            )

    def test_open_note_with_witness_keys(self) -> None:
        witnesses = [NoteVerifier.from_verifier_key(k) for k in ARCHE_WITNESS_KEYS]
        open_note(ARCHE_NOTE, verifiers=witnesses)

    def test_remora_key(self) -> None:
        remora = NoteVerifier.from_verifier_key(REMORA_KEY)
        assert (remora.name, remora.key_id.hex(), remora.sig_type) == (
            "remora.n621.de",
            "da77ade7",
            4,
        )
        assert cosignature_verifier_key(name=remora.name, public_key=remora.public_key) == (
            REMORA_KEY
        )

    def test_timestamp_layout(self) -> None:
        # transparency-dev/formats TestCosignatureTimestamp: key ID, then u64 big-endian time
        raw = b64decode(TIMESTAMPED_SIGNATURE)
        assert int.from_bytes(raw[4:12], "big") == TIMESTAMPED_SIGNATURE_TIME


class TestCosigning:
    def test_round_trip(self) -> None:
        witness = CosignatureSigner.generate("witness.example/w1")
        signature = witness.sign(BODY, timestamp=1679315147)
        assert signature.signature[:8] == (1679315147).to_bytes(8, "big")
        for key in (witness.verifier_key(), witness.verifier()):
            assert (
                verify_cosignature(verifier_key=key, checkpoint_body=BODY, signature=signature)
                == 1679315147
            )

    def test_key_id_uses_type_4(self) -> None:
        seed = bytes(range(32))
        witness = CosignatureSigner.from_private_bytes(name="w", private_key=seed)
        plain = NoteSigner.from_private_bytes(name="w", private_key=seed)
        assert witness.public_key == plain.public_key
        assert witness.key_id != plain.key_id
        assert witness.verifier_key() == cosignature_verifier_key(
            name="w", public_key=witness.public_key
        )

    def test_signed_message_is_the_spec_message(self) -> None:
        # C2SP tlog-cosignature: "cosignature/v1\ntime <t>\n" followed by the checkpoint body
        witness = CosignatureSigner.generate("w")
        signature = witness.sign(BODY, timestamp=5)
        message = b"cosignature/v1\ntime 5\n" + BODY
        plain = NoteVerifier(name="w", sig_type=1, public_key=witness.public_key)
        plain.verify(message, NoteSignature("w", plain.key_id, signature.signature[8:]))

    def test_tampered_timestamp(self) -> None:
        witness = CosignatureSigner.generate("w")
        signature = witness.sign(BODY, timestamp=100)
        moved = NoteSignature(
            signature.name, signature.key_id, (101).to_bytes(8, "big") + signature.signature[8:]
        )
        with pytest.raises(SignatureError):
            verify_cosignature(
                verifier_key=witness.verifier(), checkpoint_body=BODY, signature=moved
            )

    def test_timestamp_beyond_int63(self) -> None:
        witness = CosignatureSigner.generate("w")
        with pytest.raises(NoteError):
            witness.sign(BODY, timestamp=2**63)
        with pytest.raises(NoteError):
            witness.sign(BODY, timestamp=-1)
        forged = NoteSignature("w", witness.key_id, (2**63).to_bytes(8, "big") + bytes(64))
        with pytest.raises(SignatureError, match="timestamp"):
            verify_cosignature(
                verifier_key=witness.verifier(), checkpoint_body=BODY, signature=forged
            )

    def test_wrong_witness(self) -> None:
        signature = CosignatureSigner.generate("w").sign(BODY, timestamp=1)
        other = CosignatureSigner.generate("w")
        with pytest.raises(SignatureError):
            verify_cosignature(
                verifier_key=other.verifier(), checkpoint_body=BODY, signature=signature
            )

    def test_note_key_is_not_a_cosignature_key(self) -> None:
        signature = CosignatureSigner.generate("w").sign(BODY, timestamp=1)
        with pytest.raises(SignatureError, match="0x04"):
            verify_cosignature(verifier_key=PETER_KEY, checkpoint_body=BODY, signature=signature)

    def test_plain_signature_is_not_a_cosignature(self) -> None:
        seed = bytes(32)
        plain = NoteSigner.from_private_bytes(name="w", private_key=seed).sign(BODY)
        witness = CosignatureSigner.from_private_bytes(name="w", private_key=seed)
        relabelled = NoteSignature("w", witness.key_id, plain.signature)
        with pytest.raises(SignatureError):
            verify_cosignature(
                verifier_key=witness.verifier(), checkpoint_body=BODY, signature=relabelled
            )

    def test_only_checkpoints_are_cosigned(self) -> None:
        witness = CosignatureSigner.generate("w")
        with pytest.raises(CheckpointError):
            witness.sign(b"not a checkpoint\n", timestamp=1)

    def test_cosigned_note_opens_with_the_witness_key(self) -> None:
        log, witness = NoteSigner.generate("log"), CosignatureSigner.generate("w")
        note = Note(text=BODY, signatures=(log.sign(BODY), witness.sign(BODY, timestamp=9)))
        opened = open_note(note.encode(), verifiers=[witness.verifier()])
        assert opened.signatures == note.signatures
        with pytest.raises(UnknownKeyError):
            open_note(note.encode(), verifiers=[CosignatureSigner.generate("w").verifier()])

    def test_verifier_key_helper_checks_input(self) -> None:
        with pytest.raises(NoteError):
            cosignature_verifier_key(name="w", public_key=bytes(31))
        with pytest.raises(NoteError):
            cosignature_verifier_key(name="w x", public_key=bytes(32))
