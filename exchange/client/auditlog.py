"""The agency side of the verifiable log: checkpoints, proofs, and witnessing.

An agency trusts the log's verifier key (C2SP signed-note), not the exchange's word:
every checkpoint is checked against it, every proof against a checkpoint. A witness
keeps the last checkpoint it trusted and cosigns a newer one only when a consistency
proof shows the newer tree extends it; a checkpoint that forks from it is refused, with
both notes kept as evidence.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from audit.checkpoint import Checkpoint
from audit.cosignature import CosignatureSigner
from audit.errors import AuditError
from audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from audit.note import Note, NoteVerifier, open_note
from exchange.client.sdk import ExchangeClient, Receipt, VerificationError


class ForkDetected(VerificationError):
    """The log shows a checkpoint that does not extend one it showed before."""

    def __init__(self, reason: str, *, trusted: bytes, offered: bytes) -> None:
        self.reason, self.trusted, self.offered = reason, trusted, offered
        super().__init__(
            f"FORK: {reason}\n--- trusted checkpoint ---\n{trusted.decode()}"
            f"--- offered checkpoint ---\n{offered.decode()}"
        )


def _b64(items: list[str]) -> list[bytes]:
    return [base64.b64decode(item, validate=True) for item in items]


def verified_checkpoint(note: bytes, *, log_key: str) -> Checkpoint:
    try:
        opened = open_note(note, verifiers=[NoteVerifier.from_verifier_key(log_key)])
        return Checkpoint.parse(opened.text)
    except AuditError as error:
        raise VerificationError(f"checkpoint does not verify: {error}") from None


def pinned_log_key(client: ExchangeClient, *, log_key: str | None = None) -> str:
    """The log key to trust: ``log_key`` if given, else the one the bundle pins.

    The exchange's own word for its key (``/api/v1/audit/key``) is only compared with the
    pin: a different one is refused, as a witness refuses a state file of another key.
    """
    pinned = log_key or client.log_key
    if not pinned:
        raise VerificationError(
            "no log key is pinned: give the log's verifier key (--log-key), or use a bundle "
            "whose exchange.json carries log_key"
        )
    served = str(client.request("GET", "/api/v1/audit/key")).strip()
    if served != pinned:
        raise VerificationError(
            f"the exchange serves the log key {served}, not the pinned key {pinned}"
        )
    return pinned


def fetch_checkpoint(client: ExchangeClient, *, log_key: str) -> tuple[bytes, Checkpoint]:
    note = str(client.request("GET", "/api/v1/audit/checkpoint")).encode()
    return note, verified_checkpoint(note, log_key=log_key)


@dataclass(frozen=True)
class PublicationProof:
    """A receipt's audit entry, proven to be in a signed checkpoint."""

    index: int
    checkpoint: Checkpoint
    entry: dict[str, Any]


def prove_publication(
    client: ExchangeClient, receipt: Receipt, *, log_key: str
) -> PublicationProof:
    """Demand and check the inclusion proof of the entry that recorded a publication.

    The receipt binds the entry by its id; the entry proven must carry that id and record
    this version's successful publication.
    """
    _, checkpoint = fetch_checkpoint(client, log_key=log_key)
    proof = client.request(
        "GET",
        "/api/v1/audit/proof/inclusion",
        params={"entry": receipt.audit_entry, "size": checkpoint.size},
    )
    entry_bytes = base64.b64decode(proof["entry"], validate=True)
    leaf = leaf_hash(entry_bytes)
    entry = json.loads(entry_bytes)
    if entry.get("id") != receipt.audit_entry:
        raise VerificationError("the entry is not the one the receipt names")
    if (
        entry.get("action") != "record.publish"
        or entry.get("outcome") != "ok"
        or {"id": receipt.record_id, "version": receipt.version} not in entry.get("targets", [])
    ):
        raise VerificationError("the entry does not record this publication")
    try:
        verify_inclusion(
            leaf_hash=leaf,
            index=int(proof["index"]),
            size=checkpoint.size,
            proof=_b64(proof["proof"]),
            root=checkpoint.root,
        )
    except AuditError as error:
        raise VerificationError(f"inclusion proof does not verify: {error}") from None
    return PublicationProof(index=int(proof["index"]), checkpoint=checkpoint, entry=entry)


@dataclass(frozen=True)
class Witnessed:
    size: int
    previous: int | None
    cosigned: bool


class Witness:
    """Cosigns the exchange's checkpoints for one agency, keeping state in a file."""

    def __init__(
        self,
        client: ExchangeClient,
        *,
        state_path: str | Path,
        name: str,
        key: Ed25519PrivateKey,
        log_key: str | None = None,
    ) -> None:
        self.client = client
        self.state_path = Path(state_path)
        raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        self.signer = CosignatureSigner.from_private_bytes(name=name, private_key=raw)
        self._log_key = log_key or client.log_key

    def _state(self) -> dict[str, str]:
        if self.state_path.exists():
            state: dict[str, str] = json.loads(self.state_path.read_text())
            if self._log_key and state.get("log_key") != self._log_key:
                raise VerificationError("the state file belongs to another log key")
            return state
        log_key = self._log_key or str(self.client.request("GET", "/api/v1/audit/key")).strip()
        return {"log_key": log_key}

    def _save(self, state: dict[str, str]) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.state_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(state, indent=2) + "\n")
        os.replace(temporary, self.state_path)

    def run_once(self, *, timestamp: int | None = None) -> Witnessed:
        """Check the latest checkpoint against the trusted one; cosign it if it extends it."""
        import time

        state = self._state()
        log_key = state["log_key"]
        note, checkpoint = fetch_checkpoint(self.client, log_key=log_key)
        previous: int | None = None
        if "checkpoint" in state:
            trusted_note = state["checkpoint"].encode()
            trusted = verified_checkpoint(trusted_note, log_key=log_key)
            previous = trusted.size
            self._check_extends(trusted, trusted_note, checkpoint, note)
        signature = self.signer.sign(
            Note.parse(note).text, timestamp=int(time.time()) if timestamp is None else timestamp
        )
        line = signature.line().decode("utf-8")
        self.client.request(
            "POST",
            "/api/v1/audit/cosignatures",
            json={"size": checkpoint.size, "cosignature": line},
        )
        state["checkpoint"] = note.decode()
        self._save(state)
        return Witnessed(size=checkpoint.size, previous=previous, cosigned=True)

    def _check_extends(
        self, trusted: Checkpoint, trusted_note: bytes, offered: Checkpoint, note: bytes
    ) -> None:
        if offered.origin != trusted.origin:
            raise ForkDetected("another log's checkpoint", trusted=trusted_note, offered=note)
        if offered.size < trusted.size:
            raise ForkDetected("the log shrank", trusted=trusted_note, offered=note)
        if offered.size == trusted.size:
            if offered.root != trusted.root:
                raise ForkDetected(
                    "two roots for the same size", trusted=trusted_note, offered=note
                )
            return
        proof = self.client.request(
            "GET",
            "/api/v1/audit/proof/consistency",
            params={"old": trusted.size, "new": offered.size},
        )
        try:
            verify_consistency(
                old_size=trusted.size,
                new_size=offered.size,
                old_root=trusted.root,
                new_root=offered.root,
                proof=_b64(proof["proof"]),
            )
        except (AuditError, ValueError):
            raise ForkDetected(
                "the new checkpoint does not extend the trusted one",
                trusted=trusted_note,
                offered=note,
            ) from None
