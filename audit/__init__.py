"""The verifiable audit log: RFC 9162 Merkle trees and C2SP checkpoints.

A library without Flask or a database, so an auditor can use it alone.
"""

from audit.checkpoint import Checkpoint
from audit.cosignature import CosignatureSigner, cosignature_verifier_key, verify_cosignature
from audit.errors import (
    AuditError,
    CheckpointError,
    ExportError,
    NoteError,
    ProofError,
    SignatureError,
    UnknownKeyError,
)
from audit.export import write_export
from audit.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from audit.note import (
    Note,
    NoteSignature,
    NoteSigner,
    NoteVerifier,
    add_signatures,
    open_note,
    sign_note,
)
from audit.tree import (
    CompactRange,
    NodeID,
    ProofPlan,
    consistency_plan,
    inclusion_plan,
    root_from_stored,
    stored_count,
    stored_index,
)
from audit.verify import ExportReport, verify_export

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "AuditError",
    "Checkpoint",
    "CheckpointError",
    "CompactRange",
    "CosignatureSigner",
    "ExportError",
    "ExportReport",
    "NodeID",
    "Note",
    "NoteError",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "ProofError",
    "ProofPlan",
    "SignatureError",
    "UnknownKeyError",
    "add_signatures",
    "consistency_plan",
    "cosignature_verifier_key",
    "inclusion_plan",
    "leaf_hash",
    "node_hash",
    "open_note",
    "root_from_stored",
    "sign_note",
    "stored_count",
    "stored_index",
    "verify_consistency",
    "verify_cosignature",
    "verify_export",
    "verify_inclusion",
    "write_export",
]
