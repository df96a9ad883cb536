"""Witnesses: agencies that cosign the exchange's checkpoints (C2SP tlog-cosignature).

A witness signs under the name of its agency with one of the agency's registered Ed25519
signing keys. Its cosignature says it has verified that the checkpoint is consistent
with every earlier one it saw, so a log rewritten behind its back cannot gather it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select

from audit.cosignature import cosignature_verifier_key, verify_cosignature
from audit.errors import AuditError
from audit.note import Note, NoteVerifier
from exchange.auth.actor import Actor
from exchange.clock import utcnow
from exchange.errors import Kind, Refusal
from exchange.extensions import db
from exchange.pki.models import SigningKey
from exchange.trail.models import AuditCosignature
from exchange.trail.published_log import checkpoint_row, parse_signature_line
from keys.jwk import load_public_jwk

_cosignature = AuditCosignature.__table__


def witness_name(agency_id: str) -> str:
    return agency_id


def witness_verifiers(agency_id: str) -> list[tuple[str, NoteVerifier]]:
    """(kid, verifier) for each active Ed25519 key of the agency."""
    keys = db.session.scalars(
        select(SigningKey).where(
            SigningKey.agency_id == agency_id,
            SigningKey.status == "active",
            SigningKey.alg.in_(("Ed25519", "EdDSA")),
        )
    )
    verifiers = []
    for key in keys:
        public = load_public_jwk(json.loads(key.jwk))
        raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
        vkey = cosignature_verifier_key(name=witness_name(agency_id), public_key=raw)
        verifiers.append((key.kid, NoteVerifier.from_verifier_key(vkey)))
    return verifiers


def _refused(kind: Kind, code: str, title: str, detail: str) -> Refusal:
    return Refusal(
        kind, code, title, detail, errors=[{"pointer": "/cosignature", "detail": detail}]
    )


def accept_cosignature(*, actor: Actor, size: int, line: str) -> tuple[dict[str, Any], bool]:
    """Verify and store a witness's cosignature of checkpoint ``size``; (document, created)."""
    agency_id = actor.agency_id or ""
    signature = parse_signature_line(line)
    name = witness_name(agency_id)
    if signature.name != name:
        raise _refused(
            Kind.INVALID, "cosignature_invalid", "Wrong witness name", f"Sign as {name!r}."
        )
    connection = db.session.connection()
    checkpoint = checkpoint_row(connection, size)
    body = Note.parse(checkpoint.note.encode()).text
    match = [(kid, v) for kid, v in witness_verifiers(agency_id) if v.key_id == signature.key_id]
    if not match:
        raise _refused(
            Kind.INVALID,
            "witness_key_unknown",
            "Unknown witness key",
            "Cosign with an active Ed25519 signing key registered for your agency.",
        )
    kid, verifier = match[0]
    try:
        timestamp = verify_cosignature(
            verifier_key=verifier, checkpoint_body=body, signature=signature
        )
    except AuditError:
        raise _refused(
            Kind.INVALID,
            "cosignature_invalid",
            "Invalid cosignature",
            "The signature does not verify.",
        ) from None
    encoded = signature.line().decode("utf-8").removesuffix("\n")
    existing = connection.execute(
        select(_cosignature.c.line, _cosignature.c.signed_at).where(
            _cosignature.c.checkpoint_size == size, _cosignature.c.witness == name
        )
    ).first()
    signed_at = datetime.fromtimestamp(timestamp, UTC)
    document = {"size": size, "witness": name, "kid": kid, "cosignature": encoded}
    if existing is not None:
        # One cosignature per witness and checkpoint: the first one stands.
        document["cosignature"] = existing.line
        return document, False
    connection.execute(
        _cosignature.insert(),
        {
            "checkpoint_size": size,
            "agency_id": agency_id,
            "kid": kid,
            "witness": name,
            "line": encoded,
            "signed_at": signed_at,
            "received_at": utcnow(),
        },
    )
    return document, True


def cosignatures(*, size: int | None) -> list[dict[str, Any]]:
    query = select(
        _cosignature.c.checkpoint_size,
        _cosignature.c.witness,
        _cosignature.c.kid,
        _cosignature.c.line,
        _cosignature.c.signed_at,
    ).order_by(_cosignature.c.id.desc())
    if size is not None:
        query = query.where(_cosignature.c.checkpoint_size == size)
    rows = db.session.connection().execute(query.limit(200))
    return [
        {
            "size": int(row.checkpoint_size),
            "witness": row.witness,
            "kid": row.kid,
            "cosignature": row.line,
            "signed_at": row.signed_at.isoformat().replace("+00:00", "Z"),
        }
        for row in rows
    ]
