"""TAXII 2.1 Add Objects (§5.4): signed records posted as STIX objects, and their status.

Each object carries the exchange's extension with the record's envelope and its
publisher's detached signature; the envelope is published as ``POST /api/v1/records``
publishes it (exchange.records.service), each object on its own. The status (§4.3.1)
names each object's outcome and is kept for the agency that posted it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from exchange.auth.actor import Actor
from exchange.errors import Kind, Refusal
from exchange.extensions import db
from exchange.jsonbody import parse_json
from exchange.records.service import PublishContext, Published, Submission, publish_each
from exchange.taxii import stix
from exchange.taxii.models import TaxiiStatus
from exchange.taxii.query import date_added
from exchange.taxii.service import Collection, collection_id
from schemas import RECORD_TYPES

# The extension's properties that restate the envelope: where given, they must agree.
_RESTATED = {
    "record_id": "id",
    "record_type": "type",
    "record_version": "version",
    "publisher": "publisher",
}


@dataclass(frozen=True)
class PostedObject:
    """One object of the posted envelope: its STIX id and version, and the record it
    carries, or why it carries none."""

    id: str
    version: str
    submission: Submission | None = None
    refusal: Refusal | None = None


def _identity(obj: Any) -> tuple[str, str]:
    # TAXII 2.1 §4.3.1: status details name the object by id and version, as posted.
    if not isinstance(obj, dict):
        return "", ""
    object_id = obj.get("id")
    version = obj.get("modified", obj.get("created"))
    return (
        object_id if isinstance(object_id, str) else "",
        version if isinstance(version, str) else "",
    )


def _refused(code: str, title: str, detail: str) -> Refusal:
    return Refusal(Kind.INVALID, code, title, detail)


def read_object(obj: Any, *, collection: Collection, max_depth: int) -> PostedObject:
    """The signed record a posted object carries in the exchange's extension."""
    object_id, version = _identity(obj)
    try:
        submission = _submission(obj, collection=collection, max_depth=max_depth)
    except Refusal as refusal:
        return PostedObject(object_id, version, refusal=refusal)
    return PostedObject(object_id, version, submission=submission)


def _submission(obj: Any, *, collection: Collection, max_depth: int) -> Submission:
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        raise _refused("object_invalid", "Not a STIX object", "A JSON object with a type.")
    extensions = obj.get("extensions")
    extension = extensions.get(stix.EXTENSION_ID) if isinstance(extensions, dict) else None
    if extension is None:
        raise _refused(
            "extension_missing",
            "No signed record",
            f"The object carries no {stix.EXTENSION_ID} extension: the exchange publishes "
            "only records signed by their publisher, and derives every other object from them.",
        )
    if not isinstance(extension, dict) or not all(
        isinstance(extension.get(name), str) for name in ("envelope", "signature")
    ):
        raise _refused(
            "extension_invalid",
            "Invalid extension",
            "The extension needs envelope (the record's JSON) and signature (a compact JWS), "
            "both strings.",
        )
    try:
        # As strict as a request body: one reading of what the signature covers.
        envelope = parse_json(extension["envelope"].encode("utf-8"), max_depth=max_depth)
    except Refusal as problem:
        raise _refused("envelope_invalid", "Invalid envelope", _message(problem)) from None
    if not isinstance(envelope, dict):
        raise _refused("envelope_invalid", "Invalid envelope", "The envelope is not an object.")
    record_type = envelope.get("type")
    if record_type != collection.record_type:
        elsewhere = (
            f" It belongs in collection {collection_id(record_type)}."
            if isinstance(record_type, str) and record_type in RECORD_TYPES
            else ""
        )
        raise _refused(
            "wrong_collection",
            "Wrong collection",
            f"This collection takes {collection.record_type} records, not {record_type!r}."
            + elsewhere,
        )
    for name, field in _RESTATED.items():
        if name in extension and extension[name] != envelope.get(field):
            raise _refused(
                "extension_mismatch",
                "Extension disagrees with its envelope",
                f"{name} is {extension[name]!r}, the envelope's {field} {envelope.get(field)!r}.",
            )
    record_id = envelope.get("id")
    if isinstance(record_id, str):
        expected = stix.primary_object_id(record_id, record_type)
        if obj.get("id") != expected:
            raise _refused(
                "object_mismatch",
                "Object does not match its record",
                f"A {record_type} record {record_id} is the object {expected}.",
            )
    return Submission(envelope, extension["signature"])


def _message(refusal: Refusal) -> str:
    text = refusal.title + (f": {refusal.detail}" if refusal.detail else "")
    fields = [
        f"{_field(e['pointer'])}: {e.get('detail', '')}"
        for e in refusal.errors
        if isinstance(e.get("pointer"), str)
    ]
    if fields and not refusal.detail:
        text += " (" + "; ".join(fields) + ")"
    return text


def _field(pointer: str) -> str:
    # The records API names fields under /record; an object carries them in its envelope.
    if pointer.startswith("/record"):
        return "envelope" + pointer.removeprefix("/record")
    return pointer.lstrip("/") or "object"


def _success(posted: PostedObject, published: Published) -> dict[str, Any]:
    message = (
        f"Published as version {published.version} of record {published.record_id}."
        if published.created
        else f"Version {published.version} of record {published.record_id} was already "
        "stored, identical: its receipt is the original one."
    )
    return {
        "id": posted.id,
        "version": posted.version,
        "message": message,
        # TAXII 2.1 §3.1.1 custom properties: what the records API answers with.
        "x_exchange_record": {"id": published.record_id, "version": published.version},
        "x_exchange_created": published.created,
        "x_exchange_receipt": published.receipt,
    }


def _failure(posted: PostedObject, refusal: Refusal) -> dict[str, Any]:
    return {
        "id": posted.id,
        "version": posted.version,
        "message": _message(refusal),
        "x_exchange_code": refusal.code,
    }


def add_objects(
    *,
    context: PublishContext,
    collection: Collection,
    objects: Sequence[Any],
    max_objects: int,
    max_depth: int,
) -> TaxiiStatus:
    """Publish the records the objects carry; their status, kept for the caller's agency."""
    accepted = objects[:max_objects]
    posted = [read_object(o, collection=collection, max_depth=max_depth) for o in accepted]
    submissions = [p.submission for p in posted if p.submission is not None]
    outcomes = iter(publish_each(context=context, submissions=submissions))
    successes: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for item in posted:
        outcome = item.refusal if item.submission is None else next(outcomes)
        if isinstance(outcome, Published):
            successes.append(_success(item, outcome))
        elif outcome is not None:
            failures.append(_failure(item, outcome))
    over = _refused(
        "batch_too_large",
        "Too many objects",
        f"At most {max_objects} objects in one request: post the rest in another.",
    )
    failures += [_failure(PostedObject(*_identity(o)), over) for o in objects[max_objects:]]
    status = TaxiiStatus(
        id=str(uuid.uuid4()),
        agency_id=context.actor.agency_id,
        system_id=context.actor.system_id,
        collection_id=collection.id,
        request_timestamp=context.received_at,
        audit_entry_id=context.audit_entry_id,
        total_count=len(objects),
        success_count=len(successes),
        failure_count=len(failures),
        pending_count=0,
        details=json.dumps(
            {"successes": successes, "failures": failures, "pendings": []},
            ensure_ascii=False,
            separators=(",", ":"),
        ),
    )
    db.session.add(status)
    return status


def status_document(status: TaxiiStatus) -> dict[str, Any]:
    """TAXII 2.1 §4.3.1: every object was settled before the request answered."""
    details: Mapping[str, Any] = json.loads(status.details)
    return {
        "id": status.id,
        "status": "complete" if status.pending_count == 0 else "pending",
        "request_timestamp": date_added(status.request_timestamp),
        "total_count": status.total_count,
        "success_count": status.success_count,
        "successes": details["successes"],
        "failure_count": status.failure_count,
        "failures": details["failures"],
        "pending_count": status.pending_count,
        "pendings": details["pendings"],
    }


def read_status(*, actor: Actor, status_id: str) -> TaxiiStatus:
    """A status of the caller's agency; another agency's is as if it did not exist."""
    found: TaxiiStatus | None = None
    if _is_uuid(status_id):
        found = db.session.scalar(
            select(TaxiiStatus).where(
                TaxiiStatus.id == status_id, TaxiiStatus.agency_id == actor.agency_id
            )
        )
    if found is None:
        raise Refusal(
            Kind.NOT_FOUND,
            "status_not_found",
            "No such status",
            "Your agency posted no request with this status id.",
        )
    return found


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False
