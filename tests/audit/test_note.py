"""C2SP signed-note: signing, opening and the verifier key format."""

import pytest

from audit.errors import NoteError, SignatureError, UnknownKeyError
from audit.note import (
    MAX_SIGNATURES,
    Note,
    NoteSignature,
    NoteSigner,
    NoteVerifier,
    add_signatures,
    open_note,
    sign_note,
)
from tests.audit.vectors import (
    ENOCH_KEY,
    ENOCH_SIG,
    GO_TEXT,
    PETER_KEY,
    PETER_SEED,
    PETER_SIG,
    PLUS_KEY,
)

PETER = NoteVerifier.from_verifier_key(PETER_KEY)
ENOCH = NoteVerifier.from_verifier_key(ENOCH_KEY)


class TestKnownVectors:
    def test_signer_from_seed(self) -> None:
        signer = NoteSigner.from_private_bytes(name="PeterNeumann", private_key=PETER_SEED)
        assert signer.key_id == bytes.fromhex("c74f20a3")
        assert signer.verifier_key() == PETER_KEY

    def test_sign_matches_sumdb_note(self) -> None:
        signer = NoteSigner.from_private_bytes(name="PeterNeumann", private_key=PETER_SEED)
        assert sign_note(GO_TEXT, signers=[signer]) == GO_TEXT + b"\n" + PETER_SIG

    def test_open_ignores_unknown_signatures(self) -> None:
        note = open_note(GO_TEXT + b"\n" + PETER_SIG + ENOCH_SIG, verifiers=[PETER])
        assert note.text == GO_TEXT
        assert [s.name for s in note.signatures] == ["PeterNeumann", "EnochRoot"]

    def test_open_with_both_keys(self) -> None:
        open_note(GO_TEXT + b"\n" + PETER_SIG + ENOCH_SIG, verifiers=[PETER, ENOCH])

    def test_verifier_keys(self) -> None:
        assert PETER.name == "PeterNeumann"
        assert PETER.key_id.hex() == "c74f20a3"
        assert ENOCH.key_id.hex() == "af0cfe78"
        plus = NoteVerifier.from_verifier_key(PLUS_KEY)
        assert (plus.name, plus.key_id.hex(), plus.sig_type) == ("TEST", "7997405c", 1)
        assert plus.verifier_key() == PLUS_KEY


class TestVerifierKey:
    def test_manglings_are_refused(self) -> None:
        # sumdb/note TestNewVerifier: every proper substring and every one-byte change
        for start in range(len(PETER_KEY) + 1):
            for end in range(start + 1, len(PETER_KEY) + 1):
                if (start, end) != (0, len(PETER_KEY)):
                    with pytest.raises(NoteError):
                        NoteVerifier.from_verifier_key(PETER_KEY[start:end])
        for at in range(len(PETER_KEY)):
            changed = PETER_KEY[:at] + chr(ord(PETER_KEY[at]) + 1) + PETER_KEY[at + 1 :]
            with pytest.raises(NoteError):
                NoteVerifier.from_verifier_key(changed)

    @pytest.mark.parametrize(
        "vkey",
        [
            # sumdb/note TestNewVerifier: wrong key length and unknown algorithm, with their
            # key IDs adjusted to match
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
            "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "",
            "name+zzzzzzzz+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        ],
    )
    def test_bad_keys(self, vkey: str) -> None:
        with pytest.raises(NoteError):
            NoteVerifier.from_verifier_key(vkey)

    @pytest.mark.parametrize("name", ["", "a b", "a+b", "tab\tname", "nbsp\u00a0name"])
    def test_bad_names(self, name: str) -> None:
        with pytest.raises(NoteError):
            NoteSigner.generate(name)


class TestRoundTrip:
    def test_sign_open(self) -> None:
        one, two = NoteSigner.generate("one.example/log"), NoteSigner.generate("two.example")
        text = "Ognuno sta solo sul cuor della terra\n\ned è subito sera.\n".encode()
        signed = sign_note(text, signers=[one, two])
        note = open_note(signed, verifiers=[two.verifier()])
        assert note.text == text
        assert Note.parse(signed).encode() == signed
        assert note.signatures[0] == one.sign(text)

    def test_tampered_text(self) -> None:
        signer = NoteSigner.generate("log")
        signed = sign_note(b"hello\n", signers=[signer])
        with pytest.raises(SignatureError):
            open_note(signed.replace(b"hello", b"jello"), verifiers=[signer.verifier()])

    def test_tampered_signature(self) -> None:
        # sumdb/note TestOpen: "Invalid signature"
        bad = PETER_SIG[:60] + b"ABCD" + PETER_SIG[60:]
        with pytest.raises(SignatureError):
            open_note(GO_TEXT + b"\n" + bad, verifiers=[PETER])

    def test_wrong_key_with_same_name_is_unknown(self) -> None:
        signer, impostor = NoteSigner.generate("log"), NoteSigner.generate("log")
        signed = sign_note(b"hello\n", signers=[impostor])
        with pytest.raises(UnknownKeyError):
            open_note(signed, verifiers=[signer.verifier()])

    def test_no_trusted_signature(self) -> None:
        with pytest.raises(UnknownKeyError):
            open_note(GO_TEXT + b"\n" + PETER_SIG + ENOCH_SIG, verifiers=[])

    def test_verify_refuses_another_keys_signature(self) -> None:
        signature = NoteSigner.generate("x").sign(b"t\n")
        with pytest.raises(SignatureError):
            PETER.verify(b"t\n", signature)

    def test_the_same_trusted_key_twice(self) -> None:
        text = GO_TEXT + b"\n" + PETER_SIG
        open_note(text, verifiers=[PETER, NoteVerifier.from_verifier_key(PETER_KEY)])

    def test_ambiguous_trusted_keys(self, monkeypatch: pytest.MonkeyPatch) -> None:
        # Two keys whose name and key ID collide cannot both be trusted (sumdb/note
        # "ambiguous key"); a real collision is 2**32 work, so the key ID is pinned.
        monkeypatch.setattr("audit.note.key_id", lambda name, material: bytes(4))
        first = NoteVerifier(name="log", sig_type=1, public_key=PETER.public_key)
        second = NoteVerifier(name="log", sig_type=1, public_key=ENOCH.public_key)
        with pytest.raises(UnknownKeyError, match="share"):
            open_note(GO_TEXT + b"\n" + PETER_SIG, verifiers=[first, second])

    def test_signing_needs_valid_text(self) -> None:
        signer = NoteSigner.generate("log")
        for text in (b"no newline", b"bell\x07\n", b"\xff\n"):
            with pytest.raises(NoteError):
                signer.sign(text)
        with pytest.raises(NoteError):
            sign_note(b"x\n", signers=[])

    def test_private_key_must_be_a_seed(self) -> None:
        with pytest.raises(NoteError):
            NoteSigner.from_private_bytes(name="log", private_key=bytes(31))


class TestMalformedNotes:
    @pytest.mark.parametrize(
        "data",
        [
            # sumdb/note TestOpen: "Invalid encoded message syntax"
            GO_TEXT,
            GO_TEXT + b"\n",
            GO_TEXT + b"\n" + PETER_SIG[:-1],
            b"\x01" + GO_TEXT + b"\n" + PETER_SIG,
            b"\xff" + GO_TEXT + b"\n" + PETER_SIG,
            GO_TEXT + b"\n" + PETER_SIG.replace(b"PeterNeumann", b"Bad Name")[:-1],
            GO_TEXT + b"\n" + PETER_SIG + b"Unexpected line.\n",
            # and more
            GO_TEXT + b"\n" + PETER_SIG.replace("\u2014".encode(), b"-"),
            GO_TEXT + b"\n" + PETER_SIG.replace(b"x08go", b"x08g!"),
            GO_TEXT + b"\n" + PETER_SIG.replace(b"AM=", b"AN="),
            GO_TEXT + b"\n" + "\u2014 PeterNeumann AAAAAA==\n".encode(),
            GO_TEXT + b"\n" + "\u2014 PeterNeumann\n".encode(),
            GO_TEXT.replace(b"\n", b"\r\n") + b"\n" + PETER_SIG,
        ],
    )
    def test_refused(self, data: bytes) -> None:
        with pytest.raises(NoteError):
            open_note(data, verifiers=[PETER])

    def test_wrong_key_id_is_an_unknown_key(self) -> None:
        wrong_id = PETER_SIG.replace(b"x08g", b"xxxx")
        with pytest.raises(UnknownKeyError):
            open_note(GO_TEXT + b"\n" + wrong_id, verifiers=[PETER])

    def test_too_many_signatures(self) -> None:
        # sumdb/note TestOpen: 101 signatures is too many, even when they repeat
        with pytest.raises(NoteError, match="more than"):
            open_note(GO_TEXT + b"\n" + PETER_SIG * (MAX_SIGNATURES + 1), verifiers=[PETER])
        assert MAX_SIGNATURES >= 16  # C2SP signed-note: "MUST accept at least up to 16"

    def test_sixteen_distinct_signatures_are_accepted(self) -> None:
        signers = [NoteSigner.generate(f"w{i}") for i in range(16)]
        note = open_note(sign_note(b"t\n", signers=signers), verifiers=[signers[7].verifier()])
        assert len(note.signatures) == 16

    def test_duplicate_signatures(self) -> None:
        # sumdb/note: repeated identical lines count once
        note = open_note(GO_TEXT + b"\n" + PETER_SIG + PETER_SIG + ENOCH_SIG, verifiers=[PETER])
        assert len(note.signatures) == 2
        # a second, different signature by a trusted key must verify too
        bad = PETER_SIG[:60] + b"ABCD" + PETER_SIG[60:]
        with pytest.raises(SignatureError):
            open_note(GO_TEXT + b"\n" + PETER_SIG + bad, verifiers=[PETER])

    def test_text_keeps_its_blank_lines(self) -> None:
        signer = NoteSigner.generate("log")
        signed = sign_note(b"Note\n\n", signers=[signer])
        assert open_note(signed, verifiers=[signer.verifier()]).text == b"Note\n\n"

    @pytest.mark.parametrize(
        "fields",
        [
            {"name": "a b", "key_id": b"1234", "signature": b"s"},
            {"name": "a", "key_id": b"123", "signature": b"s"},
            {"name": "a", "key_id": b"1234", "signature": b""},
        ],
    )
    def test_bad_signature_values(self, fields: dict[str, object]) -> None:
        with pytest.raises(NoteError):
            NoteSignature(**fields)  # type: ignore[arg-type]

    def test_note_needs_a_signature(self) -> None:
        with pytest.raises(NoteError):
            Note(text=b"t\n", signatures=())


class TestAddSignatures:
    def test_adds_and_replaces(self) -> None:
        log, witness = NoteSigner.generate("log"), NoteSigner.generate("witness")
        signed = sign_note(b"t\n", signers=[log])
        first = add_signatures(signed, [witness.sign(b"t\n")])
        assert first == signed + witness.sign(b"t\n").line()
        again = add_signatures(first, [witness.sign(b"t\n"), witness.sign(b"t\n")])
        assert again == first
        note = open_note(again, verifiers=[log.verifier(), witness.verifier()])
        assert len(note.signatures) == 2
