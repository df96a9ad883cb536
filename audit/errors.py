"""What can go wrong when checking the audit log.

Every error carries a stable problem ``code`` that callers can hand to clients unchanged;
the message says what failed, never key material.
"""


class AuditError(Exception):
    """Base class of every error raised by :mod:`audit`."""

    code = "audit_error"


class ProofError(AuditError):
    """A Merkle inclusion or consistency proof does not hold, or cannot be built."""

    code = "proof_invalid"


class NoteError(AuditError):
    """A signed note, a note signature or a verifier key is not well formed."""

    code = "note_malformed"


class SignatureError(AuditError):
    """A signature by a trusted key does not verify, or too few trusted keys signed."""

    code = "signature_invalid"


class UnknownKeyError(AuditError):
    """No signature on the note is by a key the caller trusts."""

    code = "unknown_key"


class CheckpointError(AuditError):
    """A checkpoint body is not a well-formed C2SP tlog-checkpoint."""

    code = "checkpoint_malformed"


class ExportError(AuditError):
    """An audit export is malformed or does not match its checkpoint.

    ``index`` is the log index of the first entry that failed, when one entry is to blame.
    """

    code = "export_invalid"

    def __init__(self, message: str, *, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index
