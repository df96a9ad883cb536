"""C2SP tlog-cosignature: timestamped Ed25519 witness signatures on checkpoints (type 0x04)."""

from audit._codec import (
    MAX_TIMESTAMP,
    SIG_COSIGNATURE,
    TIMESTAMP_SIZE,
    cosigned_message,
)
from audit.checkpoint import Checkpoint
from audit.errors import NoteError, SignatureError
from audit.note import NoteSignature, NoteVerifier, _Ed25519Key


class CosignatureSigner(_Ed25519Key):
    """A witness key: states that it saw a checkpoint as the log's latest at a given time.

    C2SP tlog-cosignature: a cosigner's Ed25519 key must not be shared with other cosigners,
    because the signed message does not name the cosigner.
    """

    _SIG_TYPE = SIG_COSIGNATURE
    __slots__ = ()

    def sign(self, checkpoint_body: bytes, *, timestamp: int) -> NoteSignature:
        """Cosign a checkpoint body at ``timestamp`` (POSIX seconds)."""
        Checkpoint.parse(checkpoint_body)
        if not 0 <= timestamp <= MAX_TIMESTAMP:
            raise NoteError(f"cosignature timestamp {timestamp} is out of range")
        message = cosigned_message(timestamp, checkpoint_body)
        # C2SP tlog-cosignature: timestamped_signature = u64 timestamp (big-endian) || sig
        signed = timestamp.to_bytes(TIMESTAMP_SIZE, "big") + self._key.sign(message)
        return self._signature(signed)


def verify_cosignature(
    *, verifier_key: str | NoteVerifier, checkpoint_body: bytes, signature: NoteSignature
) -> int:
    """Check a witness cosignature of a checkpoint body and return its timestamp."""
    verifier = (
        NoteVerifier.from_verifier_key(verifier_key)
        if isinstance(verifier_key, str)
        else verifier_key
    )
    if verifier.sig_type != SIG_COSIGNATURE:
        raise SignatureError(f"key {verifier.name} is not a cosignature (type 0x04) key")
    Checkpoint.parse(checkpoint_body)
    verifier.verify(checkpoint_body, signature)
    return int.from_bytes(signature.signature[:TIMESTAMP_SIZE], "big")


def cosignature_verifier_key(*, name: str, public_key: bytes) -> str:
    """The type 0x04 verifier key string for a witness's raw 32-byte Ed25519 public key."""
    return NoteVerifier(name=name, sig_type=SIG_COSIGNATURE, public_key=public_key).verifier_key()
