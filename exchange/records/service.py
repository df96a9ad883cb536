"""Publishing and reading signed records (DESIGN §3, §5)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select

from exchange.agencies.policy import Policy, current_policy
from exchange.auth.actor import Actor
from exchange.clock import parse_rfc3339, rfc3339
from exchange.extensions import db
from exchange.pki.vault import load_vault
from exchange.problems import Problem
from exchange.records.models import Record, RecordAudience, RecordVersion
from exchange.records.normalize import fold
from exchange.records.signing import verify_record_signature
from keys.jcs import canonicalize
from keys.jws import sign_compact
from schemas import SchemaInvalid, search_fields, validate_envelope

RECEIPT_TYPE = "exchange-receipt+jws"

# The publish path runs these for every record: built once, compiled once.
_record = Record.__table__
_version = RecordVersion.__table__
_audience = RecordAudience.__table__
_FIND_RECORD = select(
    _record.c.pk, _record.c.publisher, _record.c.type, _record.c.version, _record.c.status
).where(_record.c.id == bindparam("id"))
_FIND_VERSION = select(_version.c.sha256, _version.c.receipt).where(
    _version.c.record_pk == bindparam("record_pk"), _version.c.version == bindparam("version")
)
_INSERT_RECORD = _record.insert()
_UPDATE_RECORD = _record.update().where(_record.c.pk == bindparam("record_pk"))
_DELETE_AUDIENCE = _audience.delete().where(_audience.c.record_pk == bindparam("record_pk"))
_INSERT_AUDIENCE = _audience.insert()
_INSERT_VERSION = _version.insert()


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


def _at(pointer: str, problem: Problem) -> Problem:
    """Re-root a problem's field pointers at the submission's place in a batch."""
    if pointer:
        problem.errors = [
            {**e, "pointer": pointer + e.get("pointer", "")} if "parameter" not in e else e
            for e in problem.errors
        ] or [{"pointer": pointer, "detail": problem.detail or problem.title}]
    return problem


def _validated(submission: Submission) -> dict[str, Any]:
    if not isinstance(submission.signature, str):
        raise Problem(
            422,
            "schema_invalid",
            "Invalid submission",
            errors=[{"pointer": "/signature", "detail": "A compact JWS string is required."}],
        )
    try:
        return validate_envelope(submission.envelope)
    except SchemaInvalid as invalid:
        raise Problem(
            422,
            "schema_invalid",
            "The record does not match its schema",
            errors=[{"pointer": "/record" + e.pointer, "detail": e.detail} for e in invalid.errors],
        ) from None


def make_receipt(
    *, record_id: str, version: int, sha256: str, received_at: datetime, audit_entry_id: str
) -> str:
    vault = load_vault()
    claims = {
        "id": record_id,
        "version": version,
        "sha256": sha256,
        "received_at": rfc3339(received_at),
        "audit_entry": audit_entry_id,
        "iss": vault.ca.certificate.subject.rfc4514_string(),
    }
    return sign_compact(
        canonicalize(claims), key=vault.receipt_key, kid=vault.receipt_kid, typ=RECEIPT_TYPE
    )


def publish_records(
    *, context: PublishContext, submissions: Sequence[Submission]
) -> list[Published]:
    """Publish every submission or none: one failure refuses the whole request."""
    envelopes: list[dict[str, Any]] = []
    schema_errors: list[Mapping[str, Any]] = []
    for submission in submissions:
        try:
            envelopes.append(_validated(submission))
        except Problem as problem:
            schema_errors.extend(_at(submission.pointer, problem).errors)
        if isinstance(submission.envelope, dict):
            record_id, version = submission.envelope.get("id"), submission.envelope.get("version")
            if isinstance(record_id, str) and isinstance(version, int) and len(record_id) <= 36:
                context.targets.append((record_id, version))
    if schema_errors:
        raise Problem(
            422, "schema_invalid", "The record does not match its schema", errors=schema_errors
        )
    policy = current_policy()
    results = []
    for submission, envelope in zip(submissions, envelopes, strict=True):
        try:
            results.append(_publish_one(context, policy, envelope, submission.signature))
        except Problem as problem:
            raise _at(submission.pointer, problem) from None
    return results


def _publish_one(
    context: PublishContext, policy: Policy, envelope: dict[str, Any], signature: str
) -> Published:
    actor = context.actor
    record_id, version, record_type = envelope["id"], envelope["version"], envelope["type"]
    if envelope["publisher"] != actor.agency_id:
        raise Problem(
            403,
            "publisher_mismatch",
            "Not your agency's record",
            f"publisher must be {actor.agency_id!r}, the agency of the calling system.",
            errors=[{"pointer": "/record/publisher", "detail": "Not the caller's agency."}],
        )
    if not policy.may_publish(actor.agency_kind, record_type):
        raise Problem(
            403,
            "policy_denied",
            "Not allowed by the sharing policy",
            f"Agencies of kind {actor.agency_kind!r} may not publish {record_type} records.",
        )
    issued_at = parse_rfc3339(envelope["issued_at"])
    if issued_at > context.received_at + context.clock_skew:
        raise Problem(
            422,
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

    connection = db.session.connection()
    record = connection.execute(_FIND_RECORD, {"id": record_id}).first()
    if record is not None:
        if record.publisher != actor.agency_id or record.type != record_type:
            raise Problem(
                403,
                "not_publisher",
                "Only the publishing agency may amend",
                "This record belongs to another agency or type.",
            )
        if version <= record.version:
            stored = connection.execute(
                _FIND_VERSION, {"record_pk": record.pk, "version": version}
            ).one()
            if stored.sha256 == digest:
                # The same version again: idempotent, the original receipt.
                return Published(
                    record_id=record_id, version=version, receipt=stored.receipt, created=False
                )
            raise _version_conflict(f"Version {version} exists with other content.")
        if version != record.version + 1:
            raise _version_conflict(f"The next version is {record.version + 1}, not {version}.")
        if record.status == "withdrawn":
            raise Problem(
                409,
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
    )
    receipt = make_receipt(
        record_id=record_id,
        version=version,
        sha256=digest,
        received_at=context.received_at,
        audit_entry_id=context.audit_entry_id,
    )
    projection = search_fields(envelope)
    audience = envelope["handling"]["audience"]
    projected = {
        "version": version,
        "status": envelope["status"],
        "issued_at": issued_at,
        "updated_at": context.received_at,
        "prefecture": projection.prefecture,
        "category": projection.category,
        "countries": "," + "".join(c + "," for c in projection.countries),
        "names": "\n".join(dict.fromkeys(fold(n) for n in projection.names)),
        "audience_restricted": audience is not None,
    }
    if record is None:
        record_pk = connection.execute(
            _INSERT_RECORD,
            {
                "id": record_id,
                "type": record_type,
                "publisher": actor.agency_id,
                "first_received_at": context.received_at,
                **projected,
            },
        ).inserted_primary_key[0]  # type: ignore[index]
    else:
        record_pk = record.pk
        connection.execute(_UPDATE_RECORD, {"record_pk": record_pk, **projected})
        connection.execute(_DELETE_AUDIENCE, {"record_pk": record_pk})
    if audience:
        connection.execute(
            _INSERT_AUDIENCE, [{"record_pk": record_pk, "agency_id": a} for a in audience]
        )
    connection.execute(
        _INSERT_VERSION,
        {
            "record_pk": record_pk,
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


def _version_conflict(detail: str) -> Problem:
    return Problem(
        409,
        "version_conflict",
        "Version conflict",
        detail,
        errors=[{"pointer": "/record/version", "detail": detail}],
    )
