"""Encodings shared by signed notes, checkpoints and cosignatures (C2SP signed-note)."""

import base64
import hashlib
import re

from audit.errors import NoteError

# C2SP signed-note, "Signature types"
SIG_ED25519 = 0x01
SIG_COSIGNATURE = 0x04

KEY_ID_SIZE = 4
TIMESTAMP_SIZE = 8
# C2SP tlog-cosignature: the timestamp "MUST NOT exceed 2^63 - 1"
MAX_TIMESTAMP = 2**63 - 1

# C2SP signed-note: no ASCII control characters other than newline
_CONTROL = re.compile(rb"[\x00-\x09\x0b-\x1f]")


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes:
    """Decode padded standard base64 (RFC 4648 §4), raising ValueError unless canonical.

    The standard library's decoder ignores the unused low bits of the last character and
    anything after padding; encoding the result again and comparing keeps one value from
    having many encodings.
    """
    # validate=True refuses characters outside the alphabet, newlines included; binascii.Error
    # and the error for non-ASCII text are both ValueErrors
    data = base64.b64decode(text, validate=True)
    if b64encode(data) != text:
        raise ValueError("non-canonical base64")
    return data


def is_valid_key_name(name: str) -> bool:
    # C2SP signed-note: "Key names MUST be non-empty and MUST NOT contain any Unicode spaces
    # or plus (U+002B) characters"; control characters cannot appear in a note at all.
    return bool(name) and not any(c.isspace() or c == "+" or c < " " for c in name)


def check_text(text: bytes, *, what: str) -> None:
    """Raise NoteError unless ``text`` is valid note text (C2SP signed-note, "Format")."""
    if not text.endswith(b"\n"):
        raise NoteError(f"{what} does not end in a newline")
    check_characters(text, what=what)


def check_characters(data: bytes, *, what: str) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteError(f"{what} is not valid UTF-8") from None
    if _CONTROL.search(data):
        raise NoteError(f"{what} contains a control character")


def key_id(name: str, key_material: bytes) -> bytes:
    """SHA-256(key name || 0x0A || signature type || public key)[:4] (C2SP signed-note)."""
    return hashlib.sha256(name.encode() + b"\n" + key_material).digest()[:KEY_ID_SIZE]


def encode_verifier_key(name: str, key_material: bytes) -> str:
    """``<name>+<hex key ID>+<base64(signature type || public key)>``, as sumdb/note writes."""
    return f"{name}+{key_id(name, key_material).hex()}+{b64encode(key_material)}"


def cosigned_message(timestamp: int, checkpoint_body: bytes) -> bytes:
    # C2SP tlog-cosignature, "Ed25519 signed message": a header line, a timestamp line in
    # decimal without leading zeroes, then the whole checkpoint body
    return b"cosignature/v1\ntime %d\n" % timestamp + checkpoint_body
