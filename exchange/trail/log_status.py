"""The log as an auditor checks it: the signed checkpoint, inclusion proofs, cosignatures.

Nothing here trusts the database's own columns for a root: the latest checkpoint's note
is opened with the exchange's verifier key, and proofs are checked against the root the
note signs, with the same ``audit`` library an agency would use offline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from audit.checkpoint import Checkpoint
from audit.cosignature import cosignature_verifier_key, verify_cosignature
from audit.errors import AuditError
from audit.merkle import leaf_hash, verify_inclusion
from audit.note import Note, NoteSignature, NoteVerifier, open_note
from exchange.clock import parse_rfc3339
from exchange.pki.models import SigningKey
from exchange.pki.vault import load_vault
from exchange.trail import stored_tree
from exchange.trail.integrator_process import log_origin
from exchange.trail.models import AuditCheckpoint, AuditCosignature, AuditEntry, AuditLeaf
from exchange.trail.published_log import b64
from keys.jwk import load_public_jwk

_checkpoint = AuditCheckpoint.__table__
_cosignature = AuditCosignature.__table__
_entry = AuditEntry.__table__
_leaf = AuditLeaf.__table__
_key = SigningKey.__table__

VERIFY_ACTION = "audit.verify"


def log_verifier(app: Flask) -> NoteVerifier:
    signer = load_vault(app).log_signer(log_origin(app))
    return NoteVerifier.from_verifier_key(signer.verifier_key())


@dataclass(frozen=True)
class SignedCheckpoint:
    size: int
    root: bytes
    note: str
    created_at: datetime
    # Why the note did not verify; None when its signature is the exchange's.
    problem: str | None = None

    @property
    def verified(self) -> bool:
        return self.problem is None

    @property
    def root_b64(self) -> str:
        return b64(self.root)


def latest_checkpoint(connection: Connection, verifier: NoteVerifier) -> SignedCheckpoint | None:
    row = connection.execute(
        select(_checkpoint.c.size, _checkpoint.c.root, _checkpoint.c.note, _checkpoint.c.created_at)
        .order_by(_checkpoint.c.size.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    try:
        checkpoint = Checkpoint.parse(open_note(row.note.encode(), verifiers=[verifier]).text)
    except AuditError as error:
        return SignedCheckpoint(
            int(row.size), bytes(row.root), row.note, row.created_at, problem=str(error)
        )
    return SignedCheckpoint(checkpoint.size, checkpoint.root, row.note, row.created_at)


@dataclass(frozen=True)
class InclusionCheck:
    """An entry's inclusion proof against the latest checkpoint, checked here."""

    state: str  # verified | failed | pending | no_checkpoint
    leaf_hash: str
    size: int = 0
    proof: tuple[str, ...] = ()
    problem: str | None = None


def check_inclusion(
    connection: Connection,
    *,
    checkpoint: SignedCheckpoint | None,
    leaf_index: int,
    canonical: bytes,
) -> InclusionCheck:
    # The leaf hash is recomputed from the entry's bytes: the stored one proves nothing.
    hashed = leaf_hash(canonical)
    if checkpoint is None:
        return InclusionCheck("no_checkpoint", b64(hashed))
    if not checkpoint.verified:
        return InclusionCheck("failed", b64(hashed), checkpoint.size, problem=checkpoint.problem)
    if leaf_index >= checkpoint.size:
        return InclusionCheck("pending", b64(hashed), checkpoint.size)
    proof = stored_tree.inclusion_proof(connection, index=leaf_index, size=checkpoint.size)
    encoded = tuple(b64(node) for node in proof)
    try:
        verify_inclusion(
            leaf_hash=hashed,
            index=leaf_index,
            size=checkpoint.size,
            proof=proof,
            root=checkpoint.root,
        )
    except AuditError as error:
        return InclusionCheck("failed", b64(hashed), checkpoint.size, encoded, str(error))
    return InclusionCheck("verified", b64(hashed), checkpoint.size, encoded)


@dataclass(frozen=True)
class CosignatureView:
    size: int
    witness: str
    agency_id: str
    kid: str
    key_status: str | None
    signed_at: datetime
    received_at: datetime
    verified: bool


def _witness_verifier(witness: str, jwk: str) -> NoteVerifier:
    public = load_public_jwk(json.loads(jwk))
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return NoteVerifier.from_verifier_key(cosignature_verifier_key(name=witness, public_key=raw))


def recent_cosignatures(connection: Connection, *, checkpoints: int = 10) -> list[CosignatureView]:
    """Cosignatures of the latest ``checkpoints`` cosigned checkpoints, each verified again.

    A witness's key is looked up by the kid it signed with, whatever the key's status now:
    a cosignature stays valid evidence after the witness rotates its key.
    """
    sizes = (
        select(_cosignature.c.checkpoint_size)
        .distinct()
        .order_by(_cosignature.c.checkpoint_size.desc())
        .limit(checkpoints)
        .subquery()
    )
    rows = connection.execute(
        select(
            _cosignature.c.checkpoint_size,
            _cosignature.c.witness,
            _cosignature.c.agency_id,
            _cosignature.c.kid,
            _cosignature.c.line,
            _cosignature.c.signed_at,
            _cosignature.c.received_at,
            _checkpoint.c.note,
            _key.c.jwk,
            _key.c.status,
        )
        .select_from(
            _cosignature.join(sizes, sizes.c.checkpoint_size == _cosignature.c.checkpoint_size)
            .join(_checkpoint, _checkpoint.c.size == _cosignature.c.checkpoint_size)
            .outerjoin(_key, _key.c.kid == _cosignature.c.kid)
        )
        .order_by(_cosignature.c.checkpoint_size.desc(), _cosignature.c.witness)
    )
    views = []
    for row in rows:
        verified = False
        if row.jwk is not None:
            try:
                verify_cosignature(
                    verifier_key=_witness_verifier(row.witness, row.jwk),
                    checkpoint_body=Note.parse(row.note.encode()).text,
                    signature=NoteSignature.parse_line(row.line.encode()),
                )
                verified = True
            except (AuditError, ValueError):
                verified = False
        views.append(
            CosignatureView(
                size=int(row.checkpoint_size),
                witness=row.witness,
                agency_id=row.agency_id,
                kid=row.kid,
                key_status=row.status,
                signed_at=row.signed_at,
                received_at=row.received_at,
                verified=verified,
            )
        )
    return views


@dataclass(frozen=True)
class PastVerification:
    entry_id: str
    # None while the entry waits for the integrator to give it its leaf.
    leaf_index: int | None
    recorded_at: datetime
    user: str | None
    details: dict[str, Any]


# Committed entries not yet integrated, newest first, examined for verifications: the
# integrator is usually a moment behind, so this many is far more than ever wait.
PENDING_EXAMINED = 1000


def _as_verification(
    entry_id: str, canonical: bytes, leaf_index: int | None
) -> PastVerification | None:
    document = json.loads(canonical)
    if document.get("action") != VERIFY_ACTION or int(document.get("status", 500)) >= 400:
        return None
    return PastVerification(
        entry_id=entry_id,
        leaf_index=leaf_index,
        recorded_at=parse_rfc3339(document["time"]),
        user=(document.get("actor") or {}).get("user"),
        details=document.get("details") or {},
    )


def _pending_verifications(connection: Connection) -> list[PastVerification]:
    integrated = select(func.coalesce(func.max(_leaf.c.entry_seq), 0)).scalar_subquery()
    rows = connection.execute(
        select(_entry.c.id, _entry.c.canonical)
        .where(_entry.c.seq > integrated)
        .order_by(_entry.c.seq.desc())
        .limit(PENDING_EXAMINED)
    )
    found = [_as_verification(row.id, bytes(row.canonical), None) for row in rows]
    return [verification for verification in found if verification is not None]


def recent_verifications(connection: Connection, *, limit: int = 5) -> list[PastVerification]:
    """The latest ``audit.verify`` entries: the log keeps its own verification record.

    Those committed but not yet integrated are included (read first, so that one
    integrated in between is found by the second read rather than by neither): a
    verification shows here as soon as its request has answered.
    """
    pending = _pending_verifications(connection)
    rows = connection.execute(
        select(
            _leaf.c.leaf_index,
            _leaf.c.recorded_at,
            _leaf.c.actor_user,
            _entry.c.id,
            _entry.c.canonical,
        )
        .select_from(_leaf.join(_entry, _entry.c.seq == _leaf.c.entry_seq))
        .where(_leaf.c.action == VERIFY_ACTION, _leaf.c.status < 400)
        .order_by(_leaf.c.leaf_index.desc())
        .limit(limit)
    )
    integrated = [
        PastVerification(
            entry_id=row.id,
            leaf_index=int(row.leaf_index),
            recorded_at=row.recorded_at,
            user=row.actor_user,
            details=json.loads(bytes(row.canonical)).get("details") or {},
        )
        for row in rows
    ]
    seen = {verification.entry_id for verification in integrated}
    newer = [verification for verification in pending if verification.entry_id not in seen]
    return (newer + integrated)[:limit]


def verification_of(connection: Connection, entry_id: str) -> PastVerification | None:
    """The verification a request recorded, by its entry id, integrated or not."""
    row = connection.execute(
        select(_entry.c.id, _entry.c.canonical, _leaf.c.leaf_index)
        .select_from(_entry.outerjoin(_leaf, _leaf.c.entry_seq == _entry.c.seq))
        .where(_entry.c.id == entry_id)
    ).first()
    if row is None:
        return None
    index = None if row.leaf_index is None else int(row.leaf_index)
    return _as_verification(row.id, bytes(row.canonical), index)
