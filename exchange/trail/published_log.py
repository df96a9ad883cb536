"""The verifiable log as the API serves it: checkpoints, proofs, entries, cosignatures."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.engine import Connection

from audit.errors import AuditError
from audit.note import NoteSignature, add_signatures
from audit.tree import NodeID
from exchange.auth.actor import Actor
from exchange.errors import Kind, Refusal
from exchange.extensions import db
from exchange.trail import stored_tree
from exchange.trail.models import AuditCheckpoint, AuditCosignature, AuditEntry, AuditLeaf

_checkpoint = AuditCheckpoint.__table__
_cosignature = AuditCosignature.__table__
_entry = AuditEntry.__table__
_leaf = AuditLeaf.__table__

AUDITOR = "auditor"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def require_auditor(actor: Actor) -> None:
    if AUDITOR not in actor.roles:
        raise Refusal(
            Kind.FORBIDDEN,
            "role_required",
            "Auditor role required",
            "Only systems with the auditor role may read audit entries.",
        )


def _parameter(kind: Kind, code: str, title: str, name: str, detail: str) -> Refusal:
    return Refusal(kind, code, title, detail, errors=[{"parameter": name, "detail": detail}])


def checkpoint_row(connection: Connection, size: int | None = None) -> Row[Any]:
    """The checkpoint of ``size``, or the latest one."""
    query = select(_checkpoint.c.size, _checkpoint.c.root, _checkpoint.c.note)
    if size is None:
        query = query.order_by(_checkpoint.c.size.desc()).limit(1)
    else:
        query = query.where(_checkpoint.c.size == size)
    row = connection.execute(query).first()
    if row is None:
        if size is None:
            raise Refusal(
                Kind.NOT_FOUND,
                "checkpoint_missing",
                "No checkpoint yet",
                "The log has not been integrated yet; try again in a moment.",
            )
        raise _parameter(
            Kind.NOT_FOUND,
            "checkpoint_not_found",
            "No such checkpoint",
            "size",
            "No checkpoint of that size.",
        )
    return row


def cosigned_note(*, size: int | None = None) -> tuple[int, str]:
    """A checkpoint's signed note with every stored cosignature line added."""
    connection = db.session.connection()
    row = checkpoint_row(connection, size)
    lines = connection.execute(
        select(_cosignature.c.line)
        .where(_cosignature.c.checkpoint_size == row.size)
        .order_by(_cosignature.c.id)
    ).scalars()
    signatures = [NoteSignature.parse_line(line.encode()) for line in lines]
    note = row.note.encode()
    if signatures:
        note = add_signatures(note, signatures)
    return int(row.size), note.decode()


def newest_cosigned_size(connection: Connection) -> int | None:
    """The size of the newest checkpoint a witness has cosigned, if any.

    A witness's own cosigning request is an entry, so on a live log the newest
    checkpoint is rarely the one cosigned.
    """
    size = connection.execute(select(func.max(_cosignature.c.checkpoint_size))).scalar()
    return None if size is None else int(size)


def _proof_size(connection: Connection, size: int | None) -> int:
    latest = int(checkpoint_row(connection).size)
    if size is None:
        return latest
    if size > latest:
        raise _parameter(
            Kind.MALFORMED,
            "size_beyond_checkpoint",
            "Size beyond the latest checkpoint",
            "size",
            f"The latest checkpoint has size {latest}.",
        )
    return size


@dataclass(frozen=True)
class InclusionProof:
    index: int
    size: int
    leaf_hash: bytes
    proof: list[bytes]
    entry: bytes | None = None

    def document(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "index": self.index,
            "size": self.size,
            "leaf_hash": b64(self.leaf_hash),
            "proof": [b64(h) for h in self.proof],
        }
        if self.entry is not None:
            document["entry"] = b64(self.entry)
        return document


def inclusion(
    *, actor: Actor, index: int | None, entry_id: str | None, size: int | None
) -> InclusionProof:
    """An inclusion proof by leaf index, or by audit entry id (the receipt's audit_entry).

    By entry id the entry's bytes come with the proof, for its own agency or an auditor:
    a publisher proves its own publication, nobody reads another agency's trail.
    """
    connection = db.session.connection()
    if (index is None) == (entry_id is None):
        raise _parameter(
            Kind.MALFORMED,
            "parameters_invalid",
            "index or entry",
            "index",
            "Give index or entry, not both.",
        )
    size = _proof_size(connection, size)
    entry: bytes | None = None
    if entry_id is not None:
        row = connection.execute(
            select(_leaf.c.leaf_index, _entry.c.canonical)
            .select_from(_entry.outerjoin(_leaf, _leaf.c.entry_seq == _entry.c.seq))
            .where(_entry.c.id == entry_id)
        ).first()
        if row is None or (
            AUDITOR not in actor.roles and _agency_of(bytes(row.canonical)) != actor.agency_id
        ):
            raise _parameter(
                Kind.NOT_FOUND,
                "entry_not_found",
                "No such entry",
                "entry",
                "No entry of yours has that id.",
            )
        if row.leaf_index is None or row.leaf_index >= size:
            raise Refusal(
                Kind.NOT_FOUND,
                "entry_not_integrated",
                "Not yet in a checkpoint",
                "The entry is not covered by the checkpoint yet; try again in a moment.",
            )
        index, entry = int(row.leaf_index), bytes(row.canonical)
    assert index is not None
    if not 0 <= index < size:
        raise _parameter(
            Kind.MALFORMED,
            "index_invalid",
            "Index outside the tree",
            "index",
            f"0 <= index < {size}.",
        )
    leaf = stored_tree.stored_hashes(connection, [NodeID(0, index)])[NodeID(0, index)]
    proof = stored_tree.inclusion_proof(connection, index=index, size=size)
    return InclusionProof(index=index, size=size, leaf_hash=leaf, proof=proof, entry=entry)


def _agency_of(canonical: bytes) -> str | None:
    actor = json.loads(canonical).get("actor") or {}
    agency: str | None = actor.get("agency")
    return agency


def consistency(*, old_size: int, new_size: int | None) -> dict[str, Any]:
    connection = db.session.connection()
    new_size = _proof_size(connection, new_size)
    if not 0 <= old_size <= new_size:
        raise _parameter(
            Kind.MALFORMED,
            "size_invalid",
            "Sizes out of order",
            "old",
            f"0 <= old <= new ({new_size}).",
        )
    proof = stored_tree.consistency_proof(connection, old_size=old_size, new_size=new_size)
    return {"old": old_size, "new": new_size, "proof": [b64(h) for h in proof]}


def entries(*, actor: Actor, start: int, end: int | None, limit: int) -> dict[str, Any]:
    """Leaves ``[start, end)`` with their entries' bytes, for auditor systems."""
    require_auditor(actor)
    connection = db.session.connection()
    size = stored_tree.integrated_size(connection)
    end = min(size if end is None else end, start + limit, size)
    rows = connection.execute(
        select(_leaf.c.leaf_index, _entry.c.id, _entry.c.canonical)
        .select_from(_leaf.join(_entry, _entry.c.seq == _leaf.c.entry_seq))
        .where(_leaf.c.leaf_index >= start, _leaf.c.leaf_index < end)
        .order_by(_leaf.c.leaf_index)
    )
    items = [{"index": int(i), "id": entry_id, "entry": b64(bytes(c))} for i, entry_id, c in rows]
    return {"start": start, "end": max(end, start), "size": size, "entries": items}


def parse_signature_line(line: str) -> NoteSignature:
    """One C2SP signed-note signature line, as a witness sends it."""
    try:
        return NoteSignature.parse_line(line.removesuffix("\n").encode("utf-8"))
    except (AuditError, UnicodeError):
        raise _pointer_problem("/cosignature", "Not a signed-note signature line.") from None


def _pointer_problem(pointer: str, detail: str) -> Refusal:
    return Refusal(
        Kind.INVALID,
        "cosignature_invalid",
        "Invalid cosignature",
        detail,
        errors=[{"pointer": pointer, "detail": detail}],
    )
