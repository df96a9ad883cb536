"""C2SP signed-note: text signed by one or more named Ed25519 keys.

The wire format and the verifier key strings are those of golang.org/x/mod/sumdb/note, so
keys and notes interoperate with Go tooling and with tlog witnesses.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Self

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit._codec import (
    KEY_ID_SIZE,
    MAX_TIMESTAMP,
    SIG_COSIGNATURE,
    SIG_ED25519,
    TIMESTAMP_SIZE,
    b64decode,
    b64encode,
    check_characters,
    check_text,
    cosigned_message,
    encode_verifier_key,
    is_valid_key_name,
    key_id,
)
from audit.errors import NoteError, SignatureError, UnknownKeyError

# C2SP signed-note: verifiers "MUST accept at least up to 16 signatures"; 100 is sumdb/note's
# bound, which keeps a hostile note from costing more than 100 verifications.
MAX_SIGNATURES = 100
# C2SP signed-note: em dash (U+2014), space, key name, space, base64 signature, newline
_SIGNATURE_PREFIX = "\N{EM DASH} ".encode()
_ED25519_SIGNATURE_SIZE = 64
_PUBLIC_KEY_SIZE = 32
_HEX_KEY_ID = re.compile(r"[0-9a-fA-F]{8}")


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the key name, its 4-byte key ID, and the bytes after the ID."""

    name: str
    key_id: bytes
    signature: bytes

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise NoteError(f"invalid key name {self.name!r}")
        if len(self.key_id) != KEY_ID_SIZE:
            raise NoteError(f"key ID must be {KEY_ID_SIZE} bytes")
        if not self.signature:
            raise NoteError("empty signature")

    def line(self) -> bytes:
        """The signature line, ending in newline."""
        encoded = b64encode(self.key_id + self.signature)
        return _SIGNATURE_PREFIX + f"{self.name} {encoded}\n".encode()

    @classmethod
    def parse_line(cls, line: bytes) -> "NoteSignature":
        """Read one signature line, without its newline."""
        if not line.startswith(_SIGNATURE_PREFIX):
            raise NoteError("signature line does not start with an em dash and a space")
        check_characters(line, what="signature line")
        name, _, encoded = line[len(_SIGNATURE_PREFIX) :].decode().partition(" ")
        try:
            raw = b64decode(encoded)
        except ValueError:
            raise NoteError("signature is not base64") from None
        # sumdb/note: a key ID and at least one byte of signature
        if len(raw) <= KEY_ID_SIZE:
            raise NoteError("signature is too short")
        return cls(name=name, key_id=raw[:KEY_ID_SIZE], signature=raw[KEY_ID_SIZE:])


@dataclass(frozen=True)
class Note:
    """A note text (ending in newline) and its signatures."""

    text: bytes
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        check_text(self.text, what="note text")
        if not self.signatures:
            raise NoteError("a signed note needs at least one signature")
        if len(self.signatures) > MAX_SIGNATURES:
            raise NoteError(f"more than {MAX_SIGNATURES} signatures")

    def encode(self) -> bytes:
        return self.text + b"\n" + b"".join(sig.line() for sig in self.signatures)

    @classmethod
    def parse(cls, data: bytes) -> "Note":
        """Split a signed note into its text and signatures; verify nothing.

        Repeated identical signature lines are kept once, as sumdb/note does.
        """
        check_characters(data, what="note")
        # C2SP signed-note: "the text is separated from the signatures by the last empty line"
        split = data.rfind(b"\n\n")
        if split < 0:
            raise NoteError("note has no blank line before its signatures")
        text, block = data[: split + 1], data[split + 2 :]
        if not block.endswith(b"\n"):
            raise NoteError("note does not end in a signature line")
        lines = block[:-1].split(b"\n")
        if len(lines) > MAX_SIGNATURES:
            raise NoteError(f"more than {MAX_SIGNATURES} signatures")
        unique = dict.fromkeys(lines)
        return cls(text=text, signatures=tuple(NoteSignature.parse_line(x) for x in unique))


class _Ed25519Key:
    """A named Ed25519 private key of one signature type."""

    _SIG_TYPE: ClassVar[int]
    __slots__ = ("_key", "_key_id", "_name", "_public_key")

    def __init__(self, *, name: str, key: Ed25519PrivateKey) -> None:
        if not is_valid_key_name(name):
            raise NoteError(f"invalid key name {name!r}")
        self._name = name
        self._key = key
        self._public_key = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._key_id = key_id(name, bytes([self._SIG_TYPE]) + self._public_key)

    @classmethod
    def generate(cls, name: str) -> Self:
        return cls(name=name, key=Ed25519PrivateKey.generate())

    @classmethod
    def from_private_bytes(cls, *, name: str, private_key: bytes) -> Self:
        """From the 32-byte RFC 8032 seed."""
        if len(private_key) != 32:
            raise NoteError("an Ed25519 private key is a 32-byte seed")
        return cls(name=name, key=Ed25519PrivateKey.from_private_bytes(private_key))

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> bytes:
        return self._key_id

    @property
    def public_key(self) -> bytes:
        return self._public_key

    def verifier_key(self) -> str:
        """The verifier key string to give to those who check this key's signatures."""
        return encode_verifier_key(self._name, bytes([self._SIG_TYPE]) + self._public_key)

    def verifier(self) -> "NoteVerifier":
        return NoteVerifier.from_verifier_key(self.verifier_key())

    def _signature(self, signature: bytes) -> NoteSignature:
        return NoteSignature(name=self._name, key_id=self._key_id, signature=signature)


class NoteSigner(_Ed25519Key):
    """Signs note texts with Ed25519 (C2SP signed-note signature type 0x01)."""

    _SIG_TYPE = SIG_ED25519
    __slots__ = ()

    def sign(self, text: bytes) -> NoteSignature:
        check_text(text, what="note text")
        return self._signature(self._key.sign(text))


class NoteVerifier:
    """A trusted key from a verifier key string: Ed25519 notes (0x01) or cosignatures (0x04)."""

    __slots__ = ("_key", "_key_id", "_name", "_public_key", "_sig_type")

    def __init__(self, *, name: str, sig_type: int, public_key: bytes) -> None:
        if not is_valid_key_name(name):
            raise NoteError(f"invalid key name {name!r}")
        if sig_type not in (SIG_ED25519, SIG_COSIGNATURE):
            raise NoteError(f"unsupported signature type 0x{sig_type:02x}")
        if len(public_key) != _PUBLIC_KEY_SIZE:
            raise NoteError("an Ed25519 public key is 32 bytes")
        self._name = name
        self._sig_type = sig_type
        self._public_key = bytes(public_key)
        self._key = Ed25519PublicKey.from_public_bytes(self._public_key)
        self._key_id = key_id(name, bytes([sig_type]) + self._public_key)

    @classmethod
    def from_verifier_key(cls, vkey: str) -> "NoteVerifier":
        """Parse ``<name>+<8 hex key ID>+<base64(signature type || public key)>``."""
        # The name holds no "+" and the key ID is hex, so the first two "+" split the fields;
        # the base64 key may hold more.
        name, _, rest = vkey.partition("+")
        hex_id, _, encoded = rest.partition("+")
        try:
            if not _HEX_KEY_ID.fullmatch(hex_id):
                raise ValueError("key ID is not 8 hex digits")
            material = b64decode(encoded)
        except ValueError:
            raise NoteError("verifier key is not name+hex key ID+base64 key") from None
        if not material:
            raise NoteError("verifier key has no key material")
        verifier = cls(name=name, sig_type=material[0], public_key=material[1:])
        if verifier.key_id != bytes.fromhex(hex_id):
            raise NoteError("verifier key ID does not match its name and public key")
        return verifier

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> bytes:
        return self._key_id

    @property
    def sig_type(self) -> int:
        return self._sig_type

    @property
    def public_key(self) -> bytes:
        return self._public_key

    def verifier_key(self) -> str:
        return encode_verifier_key(self._name, bytes([self._sig_type]) + self._public_key)

    def verify(self, text: bytes, signature: NoteSignature) -> None:
        """Raise SignatureError unless ``signature`` is this key's signature of ``text``."""
        if (signature.name, signature.key_id) != (self._name, self._key_id):
            raise SignatureError(f"signature is not by key {self._name}+{self._key_id.hex()}")
        message, sig = text, signature.signature
        if self._sig_type == SIG_COSIGNATURE:
            # C2SP tlog-cosignature: timestamped_signature = u64 timestamp || signature
            if len(sig) != TIMESTAMP_SIZE + _ED25519_SIGNATURE_SIZE:
                raise SignatureError(f"malformed cosignature by {self._name}")
            timestamp = int.from_bytes(sig[:TIMESTAMP_SIZE], "big")
            if timestamp > MAX_TIMESTAMP:
                raise SignatureError(f"cosignature by {self._name} has an invalid timestamp")
            message, sig = cosigned_message(timestamp, text), sig[TIMESTAMP_SIZE:]
        try:
            self._key.verify(sig, message)
        except InvalidSignature:
            raise SignatureError(f"invalid signature by {self._name}") from None


def sign_note(text: bytes, *, signers: Sequence[NoteSigner]) -> bytes:
    """The signed note: ``text``, a blank line, and one signature line per signer."""
    if not signers:
        raise NoteError("a signed note needs at least one signer")
    return Note(text=text, signatures=tuple(s.sign(text) for s in signers)).encode()


def open_note(data: bytes, *, verifiers: Sequence[NoteVerifier]) -> Note:
    """Parse ``data`` and check every signature by one of ``verifiers``.

    Signatures by other keys are ignored (C2SP signed-note: "Verifiers MUST ignore
    signatures from unknown keys"). Raises SignatureError if any signature by a trusted key
    fails, and UnknownKeyError if there is none. The returned note keeps every signature.
    """
    trusted: dict[tuple[str, bytes], NoteVerifier] = {}
    for verifier in verifiers:
        known = trusted.setdefault((verifier.name, verifier.key_id), verifier)
        if (known.sig_type, known.public_key) != (verifier.sig_type, verifier.public_key):
            raise UnknownKeyError(f"two trusted keys share the name and key ID of {known.name}")
    note = Note.parse(data)
    verified = 0
    for signature in note.signatures:
        match = trusted.get((signature.name, signature.key_id))
        if match is not None:
            # C2SP signed-note: a known key's failing signature rejects the whole note
            match.verify(note.text, signature)
            verified += 1
    if not verified:
        raise UnknownKeyError("the note has no signature by a trusted key")
    return note


def add_signatures(data: bytes, signatures: Iterable[NoteSignature]) -> bytes:
    """Add signatures to a signed note, replacing any earlier one by the same key.

    Nothing is verified here: the caller has checked the signatures it adds.
    """
    note = Note.parse(data)
    added = list(dict.fromkeys(signatures))
    replaced = {(s.name, s.key_id) for s in added}
    kept = [s for s in note.signatures if (s.name, s.key_id) not in replaced]
    return Note(text=note.text, signatures=(*kept, *added)).encode()
