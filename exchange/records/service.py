"""Publishing signed records (DESIGN §3, §5): every check first, then the writes."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from exchange.agencies.policy import Policy, current_policy
from exchange.auth.actor import Actor
from exchange.clock import parse_rfc3339, rfc3339
from exchange.errors import Kind, Refusal
from exchange.extensions import db
from exchange.pki.vault import load_vault
from exchange.records.disposed import DISPOSED, disposed_refusal
from exchange.records.signing import KeyCache, verify_record_signature
from exchange.records.store import PendingWrites, RecordState, load_states, stored_version
from exchange.records.tags import record_tags
from exchange.records.textsearch import folded_names
from keys.jcs import canonicalize
from keys.jws import sign_compact
from schemas import RECEIPT_SIGNATURE_TYPE, SchemaInvalid, search_fields, validate_envelope


@dataclass(frozen=True)
class Submission:
    """One ``{"record": envelope, "signature": jws}`` item and where it sat in the body."""

    envelope: Any
    signature: Any
    pointer: str = ""


@dataclass(frozen=True)
class Published:
    record_id: str
    version: int
    receipt: str
    created: bool


@dataclass
class PublishContext:
    actor: Actor
    received_at: datetime
    audit_entry_id: str
    clock_skew: timedelta
    targets: list[tuple[str, int]] = field(default_factory=list)


def _at(pointer: str, problem: Refusal) -> Refusal:
    """Re-root a problem's field pointers at the submission's place in a batch."""
    if pointer:
        problem.errors = [
            {**e, "pointer": pointer + e.get("pointer", "")} if "parameter" not in e else e
            for e in problem.errors
        ] or [{"pointer": pointer, "detail": problem.detail or problem.title}]
    return problem


def _validated(submission: Submission) -> dict[str, Any]:
    if not isinstance(submission.signature, str):
        raise Refusal(
            Kind.INVALID,
            "schema_invalid",
            "Invalid submission",
            errors=[{"pointer": "/signature", "detail": "A compact JWS string is required."}],
        )
    try:
        return validate_envelope(submission.envelope)
    except SchemaInvalid as invalid:
        raise Refusal(
            Kind.INVALID,
            "schema_invalid",
            "The record does not match its schema",
            errors=[{"pointer": "/record" + e.pointer, "detail": e.detail} for e in invalid.errors],
        ) from None


_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_MAX_VERSION = 2**31 - 1


def _target_of(envelope: Any) -> tuple[str, int] | None:
    """The (id, version) an attempt names, for its audit entry, when both are well formed.

    Even a refused submission is recorded against the record it names; what cannot be a
    record id or version is left out rather than break the entry.
    """
    if not isinstance(envelope, dict):
        return None
    record_id, version = envelope.get("id"), envelope.get("version")
    if not isinstance(record_id, str) or not _UUID.match(record_id):
        return None
    if type(version) is not int or not 1 <= version <= _MAX_VERSION:
        return None
    return record_id, version


def sign_receipt(claims: dict[str, Any]) -> str:
    """The exchange's JWS over {id, version, sha256, received_at, audit_entry, iss}.

    The receipt binds the audit entry of the request by its id; the entry's leaf is
    assigned by the integrator moments later and proven by ``/audit/proof/inclusion?entry=``.
    """
    key, kid = load_vault().receipt_signer()
    return sign_compact(canonicalize(claims), key=key, kid=kid, typ=RECEIPT_SIGNATURE_TYPE)


def _validated_all(submissions: Sequence[Submission]) -> list[dict[str, Any] | Refusal]:
    """Each submission's envelope, schema-checked, or why it does not match its schema."""
    validated: list[dict[str, Any] | Refusal] = []
    for submission in submissions:
        try:
            validated.append(_validated(submission))
        except Refusal as problem:
            validated.append(_at(submission.pointer, problem))
    return validated


def _batch(
    context: PublishContext, envelopes: Sequence[dict[str, Any]], signatures: Sequence[Any]
) -> PublishBatch:
    """The state of every record named and every key used, each read in one query."""
    connection = db.session.connection()
    states = load_states(connection, (e["id"] for e in envelopes))
    keys = KeyCache(connection)
    keys.prefetch(signatures)
    return PublishBatch(
        context=context,
        policy=current_policy(),
        connection=connection,
        states=states,
        keys=keys,
    )


def publish_records(
    *, context: PublishContext, submissions: Sequence[Submission]
) -> list[Published]:
    """Publish every submission or none: one failure refuses the whole request."""
    validated = _validated_all(submissions)
    for submission in submissions:
        target = _target_of(submission.envelope)
        if target is not None:
            context.targets.append(target)
    schema_errors = [e for v in validated if isinstance(v, Refusal) for e in v.errors]
    if schema_errors:
        raise Refusal(
            Kind.INVALID,
            "schema_invalid",
            "The record does not match its schema",
            errors=schema_errors,
        )
    envelopes = [v for v in validated if not isinstance(v, Refusal)]
    batch = _batch(context, envelopes, [s.signature for s in submissions])
    results = []
    for submission, envelope in zip(submissions, envelopes, strict=True):
        try:
            results.append(batch.check(envelope, submission.signature))
        except Refusal as problem:
            raise _at(submission.pointer, problem) from None
    batch.writes.write(batch.connection, batch.states)
    return results


def publish_each(
    *, context: PublishContext, submissions: Sequence[Submission]
) -> list[Published | Refusal]:
    """Publish each submission that passes every check; say why each other one did not.

    The checks and writes are those of :func:`publish_records`; a refusal stops only its
    own submission (a TAXII status names the outcome of each object, TAXII 2.1 §4.3.1).
    The audit entry names the versions published or found already stored.
    """
    validated = _validated_all(submissions)
    checked = [
        (v, s.signature)
        for s, v in zip(submissions, validated, strict=True)
        if not isinstance(v, Refusal)
    ]
    batch = _batch(context, [v for v, _ in checked], [signature for _, signature in checked])
    outcomes: list[Published | Refusal] = []
    for submission, envelope in zip(submissions, validated, strict=True):
        if isinstance(envelope, Refusal):
            outcomes.append(envelope)
            continue
        try:
            published = batch.check(envelope, submission.signature)
        except Refusal as problem:
            outcomes.append(_at(submission.pointer, problem))
            continue
        context.targets.append((published.record_id, published.version))
        outcomes.append(published)
    batch.writes.write(batch.connection, batch.states)
    return outcomes


@dataclass
class PublishBatch:
    """The checks of DESIGN §3 for each submission, against state read up front."""

    context: PublishContext
    policy: Policy
    connection: Connection
    states: dict[str, RecordState]
    keys: KeyCache
    writes: PendingWrites = field(default_factory=PendingWrites)

    def receipt(self, *, record_id: str, version: int, sha256: str) -> str:
        return sign_receipt(
            {
                "id": record_id,
                "version": version,
                "sha256": sha256,
                "received_at": rfc3339(self.context.received_at),
                "audit_entry": self.context.audit_entry_id,
                "iss": load_vault().issuer,
            }
        )

    def check(self, envelope: dict[str, Any], signature: str) -> Published:
        actor, context = self.context.actor, self.context
        record_id, version, record_type = envelope["id"], envelope["version"], envelope["type"]
        if envelope["publisher"] != actor.agency_id:
            raise Refusal(
                Kind.FORBIDDEN,
                "publisher_mismatch",
                "Not your agency's record",
                f"publisher must be {actor.agency_id!r}, the agency of the calling system.",
                errors=[{"pointer": "/record/publisher", "detail": "Not the caller's agency."}],
            )
        if not self.policy.may_publish(actor.agency_kind, record_type):
            raise Refusal(
                Kind.FORBIDDEN,
                "policy_denied",
                "Not allowed by the sharing policy",
                f"Agencies of kind {actor.agency_kind!r} may not publish {record_type} records.",
            )
        issued_at = parse_rfc3339(envelope["issued_at"])
        if issued_at > context.received_at + context.clock_skew:
            raise Refusal(
                Kind.INVALID,
                "issued_at_invalid",
                "issued_at is in the future",
                errors=[
                    {
                        "pointer": "/record/issued_at",
                        "detail": "Later than the exchange's clock allows.",
                    }
                ],
            )
        canonical = canonicalize(envelope)
        digest = hashlib.sha256(canonical).hexdigest()

        state = self.states.get(record_id)
        if state is not None:
            if state.publisher != actor.agency_id or state.type != record_type:
                raise Refusal(
                    Kind.FORBIDDEN,
                    "not_publisher",
                    "Only the publishing agency may amend",
                    "This record belongs to another agency or type.",
                )
            if state.status == DISPOSED:
                raise disposed_refusal(record_id)
            if version <= state.version:
                sha256, receipt = stored_version(self.connection, state, version)
                if sha256 == digest:
                    # The same version again: idempotent, the original receipt.
                    return Published(
                        record_id=record_id, version=version, receipt=receipt, created=False
                    )
                raise _version_conflict(f"Version {version} exists with other content.")
            if version != state.version + 1:
                raise _version_conflict(f"The next version is {state.version + 1}, not {version}.")
            if state.status == "withdrawn":
                raise Refusal(
                    Kind.CONFLICT,
                    "record_withdrawn",
                    "The record was withdrawn",
                    "A withdrawn record takes no more versions.",
                )
        elif version != 1:
            raise _version_conflict("A new record starts at version 1.")

        verified = verify_record_signature(
            signature=signature,
            canonical=canonical,
            publisher=actor.agency_id or "",
            issued_at=issued_at,
            keys=self.keys,
        )
        if state is None:
            state = RecordState(
                id=record_id,
                publisher=actor.agency_id or "",
                type=record_type,
                version=version,
                status=envelope["status"],
            )
            self.states[record_id] = state
        receipt = self.receipt(record_id=record_id, version=version, sha256=digest)
        state.version, state.status = version, envelope["status"]
        state.pending[version] = (digest, receipt)
        projection = search_fields(envelope)
        audience = envelope["handling"]["audience"]
        self.writes.add(
            state=state,
            projection={
                "version": version,
                "status": envelope["status"],
                "issued_at": issued_at,
                "first_received_at": context.received_at,
                "updated_at": context.received_at,
                "prefecture": projection.prefecture,
                "category": projection.category,
                "countries": "," + "".join(c + "," for c in projection.countries),
                "names": folded_names(projection.names),
                "audience_restricted": audience is not None,
                "retention_until": _retention_date(envelope),
            },
            audience=audience,
            cards=projection.card_tokens,
            tags=record_tags(envelope, projection),
            version_row={
                "version": version,
                "status": envelope["status"],
                "canonical": canonical,
                "sha256": digest,
                "signature": signature,
                "kid": verified.kid,
                "issued_at": issued_at,
                "received_at": context.received_at,
                "system_id": actor.system_id,
                "audit_entry_id": context.audit_entry_id,
                "receipt": receipt,
            },
        )
        return Published(record_id=record_id, version=version, receipt=receipt, created=True)


def _retention_date(envelope: dict[str, Any]) -> date | None:
    until = envelope["handling"].get("retention_until")
    return date.fromisoformat(until) if until else None


def _version_conflict(detail: str) -> Refusal:
    return Refusal(
        Kind.CONFLICT,
        "version_conflict",
        "Version conflict",
        detail,
        errors=[{"pointer": "/record/version", "detail": detail}],
    )
