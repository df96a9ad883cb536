"""Uploads read with the client's importer, kept server-side, and published on confirmation
through ``publish_records``, the API's own path, signed with the agency's custodial key."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from exchange.auth.actor import Actor
from exchange.client.import_report import Problem
from exchange.client.importer import ImportRow, StoredVersion, next_version, plan_import
from exchange.client.tables import read_table
from exchange.clock import rfc3339, utcnow, uuid7
from exchange.errors import Kind, Refusal
from exchange.extensions import db
from exchange.imports.models import ImportUpload
from exchange.pki.custodial import CustodialSigner, custodial_signer
from exchange.records.models import Record, RecordVersion
from exchange.records.service import PublishContext, Submission, publish_records
from exchange.textfiles import UnreadableFile
from keys.jcs import canonicalize
from keys.jws import sign_detached
from schemas import RECORD_SIGNATURE_TYPE


@dataclass
class ImportResult:
    created: int = 0
    amended: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    targets: list[tuple[str, int]] = field(default_factory=list)


def store_upload(
    *, actor: Actor, user_id: int, filename: str, data: bytes, record_type: str | None
) -> ImportUpload:
    """Read and check an uploaded sheet for the actor's agency, and keep it."""
    try:
        plan = plan_import(
            read_table(data, name=filename),
            publisher=actor.agency_id or "",
            record_type=record_type,
        )
    except UnreadableFile as error:
        raise Refusal(Kind.INVALID, "import_unreadable", "Unreadable file", str(error)) from None
    document = {
        "columns": plan.columns,
        "ignored": plan.ignored,
        "rows": [
            {"number": r.number, "id": r.record_id, "payload": r.payload, "envelope": r.envelope}
            for r in plan.rows
        ],
        "problems": [dataclasses.astuple(p) for p in plan.problems],
    }
    upload = ImportUpload(
        id=uuid7(),
        agency_id=actor.agency_id,
        user_id=user_id,
        filename=filename[:200],
        encoding=plan.encoding,
        record_type=plan.record_type,
        row_count=plan.row_count,
        plan=json.dumps(document, ensure_ascii=False),
        state="pending",
        created_at=utcnow(),
    )
    db.session.add(upload)
    return upload


def get_upload(*, user_id: int, upload_id: str, for_update: bool = False) -> ImportUpload:
    """The user's own upload; anyone else's is answered as if it did not exist. Read
    ``for_update`` to confirm it: a second confirmation waits, then finds it published."""
    upload = db.session.get(ImportUpload, upload_id[:36], with_for_update=for_update)
    if upload is None or upload.user_id != user_id:
        raise Refusal(Kind.NOT_FOUND, "import_not_found", "No such upload")
    return upload


def upload_plan(upload: ImportUpload) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(upload.plan)
    document["problems"] = [Problem(*p) for p in document["problems"]]
    return document


def _stored_versions(ids: list[str]) -> dict[str, StoredVersion]:
    """The current version of each of these records the exchange holds."""
    rows = db.session.execute(
        select(Record.id, Record.version, Record.status, RecordVersion.canonical)
        .join(
            RecordVersion,
            (RecordVersion.record_pk == Record.pk) & (RecordVersion.version == Record.version),
        )
        .where(Record.id.in_(ids))
    )
    return {
        record_id: StoredVersion(version, status, json.loads(canonical)["payload"])
        for record_id, version, status, canonical in rows
    }


def _sign(envelope: dict[str, Any], signer: CustodialSigner) -> str:
    return sign_detached(
        canonicalize(envelope), key=signer.key, kid=signer.kid, typ=RECORD_SIGNATURE_TYPE
    )


def confirm_upload(
    *,
    actor: Actor,
    upload: ImportUpload,
    received_at: datetime,
    audit_entry_id: str,
    clock_skew: timedelta,
) -> ImportResult:
    """Publish what the upload's report showed: new rows as version 1, changed rows as the
    next version, unchanged rows not at all."""
    if upload.state != "pending":
        raise Refusal(Kind.CONFLICT, "import_done", "This upload was already confirmed")
    document = upload_plan(upload)
    if document["problems"] or not document["rows"]:
        raise Refusal(Kind.INVALID, "import_invalid", "This upload has rows with problems")
    signer = custodial_signer(upload.agency_id)
    if signer is None:
        raise Refusal(
            Kind.FORBIDDEN,
            "custodial_key_missing",
            "No custodial key",
            "The exchange holds no signing key for your agency; ask an administrator.",
        )
    rows = [ImportRow(r["number"], r["id"], r["payload"], r["envelope"]) for r in document["rows"]]
    stored = _stored_versions([row.record_id for row in rows])
    issued_at = rfc3339(received_at.replace(microsecond=0))
    result = ImportResult()
    submissions = []
    for row in rows:
        effect, version = next_version(row, stored.get(row.record_id))
        setattr(result, effect, getattr(result, effect) + 1)
        if version is not None:
            envelope = dict(row.envelope, version=version, issued_at=issued_at)
            submissions.append(Submission(envelope, _sign(envelope, signer)))
    if submissions:
        # Attributed to the agency's custodial system: a version row names the system.
        publisher = dataclasses.replace(
            actor, system_id=signer.system.id, system_name=signer.system.name
        )
        context = PublishContext(
            actor=publisher,
            received_at=received_at,
            audit_entry_id=audit_entry_id,
            clock_skew=clock_skew,
            targets=result.targets,
        )
        publish_records(context=context, submissions=submissions)
    upload.state = "published"
    upload.confirmed_at = received_at
    db.session.flush()
    return result
