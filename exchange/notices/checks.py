"""The checks every notice document goes through, whoever signed it: its schema, its
signature by the acting agency's key valid at the time it names, the person it names, and
the record fields it quotes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from exchange.auth.actor import Actor
from exchange.auth.models import User
from exchange.clock import parse_rfc3339
from exchange.errors import Kind, Refusal
from exchange.extensions import db
from exchange.records import reading
from exchange.records.signing import KeyCache, verify_record_signature
from keys.jcs import canonicalize
from schemas import SchemaInvalid
from schemas.notice import NOTICE_SIGNATURE_TYPE, fields_outside_whitelist, validate_notice


@dataclass(frozen=True)
class Signed:
    """A submitted document and its detached JWS, as they came."""

    document: Any
    signature: Any


@dataclass
class NoticeContext:
    actor: Actor
    received_at: datetime
    audit_entry_id: str
    clock_skew: timedelta
    targets: list[tuple[str, int]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def invalid(code: str, title: str, pointer: str, detail: str) -> Refusal:
    return Refusal(
        Kind.INVALID, code, title, detail, errors=[{"pointer": pointer, "detail": detail}]
    )


def schema_refusal(member: str, invalid: SchemaInvalid) -> Refusal:
    return Refusal(
        Kind.INVALID,
        "schema_invalid",
        "The document does not match its schema",
        errors=[{"pointer": f"/{member}" + e.pointer, "detail": e.detail} for e in invalid.errors],
    )


def checked_signature(submitted: Signed) -> str:
    if not isinstance(submitted.signature, str):
        raise invalid(
            "schema_invalid",
            "Invalid submission",
            "/signature",
            "A compact JWS string is required.",
        )
    return submitted.signature


def verify(
    *, context: NoticeContext, signature: str, canonical: bytes, agency: str, at: str, typ: str
) -> str:
    """The kid that signed, once the signature verifies; the time named must not be ahead."""
    moment = parse_rfc3339(at)
    if moment > context.received_at + context.clock_skew:
        raise invalid(
            "issued_at_invalid",
            "Signed in the future",
            "/signature",
            "The document names a time later than the exchange's clock allows.",
        )
    verified = verify_record_signature(
        signature=signature,
        canonical=canonical,
        publisher=agency,
        issued_at=moment,
        keys=KeyCache(db.session.connection()),
        typ=typ,
    )
    return verified.kid


def acting_agency(context: NoticeContext, agency: str, pointer: str) -> None:
    if agency != context.actor.agency_id:
        raise Refusal(
            Kind.FORBIDDEN,
            "notice_agency_mismatch",
            "Not your agency",
            "A document is signed for the agency of whoever sends it.",
            errors=[{"pointer": pointer, "detail": "Not the sender's agency."}],
        )


def named_person(
    context: NoticeContext, *, username: str, agency: str, roles: frozenset[str], pointer: str
) -> User:
    """The person a document names: a user of the agency, enabled, with one of ``roles``;
    in the web UI, the signed-in user."""
    if context.actor.user is not None and context.actor.user != username:
        raise Refusal(
            Kind.FORBIDDEN,
            "notice_person_mismatch",
            "Not you",
            "A document signed in the web UI names the person signed in.",
            errors=[{"pointer": pointer, "detail": "Not the signed-in user."}],
        )
    user: User | None = db.session.scalar(select(User).where(User.username == username))
    if user is None or user.agency_id != agency or user.disabled_at is not None:
        raise invalid(
            "notice_person_unknown",
            "Unknown person",
            pointer,
            f"No enabled user {username!r} of agency {agency!r}.",
        )
    if not roles & user.role_set:
        code = "approver_role_required" if roles == {"approver"} else "role_required"
        raise Refusal(
            Kind.FORBIDDEN,
            code,
            "Role required",
            f"{username} needs one of the roles: {', '.join(sorted(roles))}.",
            errors=[{"pointer": pointer, "detail": "Missing role."}],
        )
    return user


def quoted_facts(context: NoticeContext, document: dict[str, Any]) -> None:
    """Each broker is a broker record of the notice's country that the agency may read, and
    each quoted field is exactly what the quoted version says."""
    for index, broker in enumerate(document["brokers"]):
        pointer = f"/notice/brokers/{index}"
        context.targets.append((broker["id"], broker["version"]))
        view = reading.read_record(
            actor=context.actor, record_id=broker["id"], version=broker["version"]
        )
        record = json.loads(view.version.canonical)
        if record["type"] != "broker":
            raise invalid(
                "notice_record_not_broker", "Not a broker record", pointer + "/id", "A broker."
            )
        if record["status"] != "active":
            raise invalid(
                "notice_record_withdrawn",
                "Withdrawn record",
                pointer + "/version",
                "The quoted version withdraws the record.",
            )
        payload = record["payload"]
        if payload.get("country") != document["country"]:
            raise invalid(
                "notice_broker_country",
                "Broker of another country",
                pointer + "/id",
                f"The broker is of {payload.get('country')}, the notice to {document['country']}.",
            )
        for name, value in broker["facts"].items():
            if payload.get(name) != value:
                raise invalid(
                    "notice_fact_mismatch",
                    "Not what the record says",
                    f"{pointer}/facts/{name}",
                    "Quote the field exactly as the quoted version has it.",
                )


def checked_notice(context: NoticeContext, submitted: Signed) -> tuple[dict[str, Any], bytes]:
    outside = fields_outside_whitelist(submitted.document)
    if outside:
        raise Refusal(
            Kind.INVALID,
            "notice_field_not_allowed",
            "Field not allowed in a notice",
            "A notice quotes only the broker fields of the allowed list.",
            errors=[{"pointer": "/notice" + e.pointer, "detail": e.detail} for e in outside],
        )
    try:
        document = validate_notice(submitted.document)
    except SchemaInvalid as error:
        raise schema_refusal("notice", error) from None
    signature = checked_signature(submitted)
    acting_agency(context, document["agency"], "/notice/agency")
    canonical = canonicalize(submitted.document)
    context.details["kid"] = verify(
        context=context,
        signature=signature,
        canonical=canonical,
        agency=document["agency"],
        at=document["issued_at"],
        typ=NOTICE_SIGNATURE_TYPE,
    )
    named_person(
        context,
        username=document["drafted_by"],
        agency=document["agency"],
        roles=frozenset({"liaison"}),
        pointer="/notice/drafted_by",
    )
    quoted_facts(context, document)
    return document, canonical
