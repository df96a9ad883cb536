"""Notice and step documents as the web UI makes them, signed with the agency's custodial key.

The exchange holds the key for the agency (created on first use, as for the web import);
the document names the person who acted. What is made here goes through the same checks
as a document an agency system signs and sends over the API (exchange.notices.service).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from exchange.auth.actor import Actor, operator_actor
from exchange.clock import rfc3339
from exchange.notices.checks import NoticeContext, Signed
from exchange.notices.models import Notice
from exchange.notices.reading import current_version
from exchange.pki.custodial import CustodialSigner, create_custodial_key, custodial_signer
from exchange.records import reading
from keys.jcs import canonicalize
from keys.jws import sign_detached
from schemas.notice import (
    FACT_FIELDS,
    NOTICE_SCHEMA,
    NOTICE_SIGNATURE_TYPE,
    NOTICE_STEP_SIGNATURE_TYPE,
    STEP_SCHEMA,
)


def signer_for(agency_id: str) -> CustodialSigner:
    """The agency's custodial signer; the exchange creates the key on first use."""
    signer = custodial_signer(agency_id)
    if signer is None:
        create_custodial_key(actor=operator_actor("exchange"), agency_id=agency_id)
        signer = custodial_signer(agency_id)
    if signer is None:
        raise RuntimeError("a custodial key was created but cannot be used")
    return signer


def custodial_context(context: NoticeContext, signer: CustodialSigner) -> NoticeContext:
    """The context of a web UI action: attributed to the agency's custodial system."""
    actor = dataclasses.replace(
        context.actor, system_id=signer.system.id, system_name=signer.system.name
    )
    return dataclasses.replace(context, actor=actor)


def sign(document: Mapping[str, Any], *, signer: CustodialSigner, typ: str) -> Signed:
    signature = sign_detached(canonicalize(document), key=signer.key, kid=signer.kid, typ=typ)
    return Signed(dict(document), signature)


def stamp(moment: datetime) -> str:
    return rfc3339(moment)


def quoted_brokers(
    actor: Actor, chosen: Sequence[tuple[str, int | None]], fields: Sequence[str]
) -> list[dict[str, Any]]:
    """Each chosen broker record (its current version unless one is named), with the chosen
    fields it has, quoted unchanged."""
    wanted = [name for name in FACT_FIELDS if name in fields or name == "name"]
    brokers = []
    for record_id, version in chosen:
        view = reading.read_record(actor=actor, record_id=record_id, version=version)
        record = json.loads(view.version.canonical)
        payload = record["payload"]
        brokers.append(
            {
                "id": record["id"],
                "version": record["version"],
                "facts": {name: payload[name] for name in wanted if name in payload},
            }
        )
    return brokers


def notice_document(
    *,
    notice_id: str,
    version: int,
    actor: Actor,
    country: str,
    brokers: list[dict[str, Any]],
    request_ja: str,
    request_en: str,
    at: datetime,
) -> dict[str, Any]:
    return {
        "id": notice_id,
        "schema": NOTICE_SCHEMA,
        "version": version,
        "agency": actor.agency_id,
        "country": country,
        "drafted_by": actor.user,
        "brokers": brokers,
        "request": {"ja": request_ja, "en": request_en},
        "issued_at": stamp(at),
    }


def step_document(
    *, notice: Notice, step: str, actor: Actor, at: datetime, **extra: Any
) -> dict[str, Any]:
    """A step about the notice's current version, chained to its latest step."""
    version = current_version(notice)
    return {
        "schema": STEP_SCHEMA,
        "notice": notice.id,
        "notice_version": notice.version,
        "notice_sha256": version.sha256,
        "previous": notice.head_sha256,
        "step": step,
        "agency": actor.agency_id,
        "by": actor.user,
        "at": stamp(at),
        **{name: value for name, value in extra.items() if value not in (None, "")},
    }


def signed_notice(document: Mapping[str, Any], signer: CustodialSigner) -> Signed:
    return sign(document, signer=signer, typ=NOTICE_SIGNATURE_TYPE)


def signed_step(document: Mapping[str, Any], signer: CustodialSigner) -> Signed:
    return sign(document, signer=signer, typ=NOTICE_STEP_SIGNATURE_TYPE)
