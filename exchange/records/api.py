"""``/api/v1/records``: publish, read, versions, search."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from exchange.agencies.policy import PURPOSES
from exchange.apiblueprint import Blueprint
from exchange.auth.mtls import require_system
from exchange.jsonbody import request_json
from exchange.pki.vault import load_vault
from exchange.problems import Problem
from exchange.records import reading
from exchange.records.schemas import (
    PURPOSE_HEADER,
    ReadArgsSchema,
    RecordVersionSchema,
    SearchArgsSchema,
    SearchPageSchema,
    VersionListSchema,
)
from exchange.records.service import PublishContext, Submission, publish_records
from exchange.trail.entries import protect_term
from exchange.trail.recorder import audited

bp = Blueprint("records", __name__, url_prefix="/api/v1/records", description="Signed records")
bp.before_request(require_system)


def require_purpose() -> str:
    purpose = request.headers.get("Exchange-Purpose")
    if not purpose:
        raise Problem(
            400,
            "purpose_required",
            "Purpose required",
            "State why you read in the Exchange-Purpose header.",
            errors=[{"parameter": "Exchange-Purpose", "detail": "Missing."}],
        )
    if purpose not in PURPOSES:
        raise Problem(
            400,
            "purpose_invalid",
            "Unknown purpose",
            f"One of: {', '.join(PURPOSES)}.",
            errors=[{"parameter": "Exchange-Purpose", "detail": "Not a known purpose."}],
        )
    g.audit.purpose = purpose
    return purpose


def _submissions(body: Any) -> tuple[list[Submission], bool]:
    if not isinstance(body, dict):
        raise Problem(
            422,
            "schema_invalid",
            "Invalid body",
            errors=[{"pointer": "", "detail": "A JSON object is required."}],
        )
    if "records" in body:
        items = body["records"]
        limit = current_app.config["EXCHANGE_MAX_BATCH"]
        if set(body) != {"records"} or not isinstance(items, list) or not items:
            raise Problem(
                422,
                "schema_invalid",
                "Invalid batch",
                errors=[{"pointer": "/records", "detail": "A non-empty list, alone in the body."}],
            )
        if len(items) > limit:
            raise Problem(413, "batch_too_large", "Batch too large", f"At most {limit} records.")
        submissions = []
        for index, item in enumerate(items):
            if not isinstance(item, dict) or set(item) != {"record", "signature"}:
                raise Problem(
                    422,
                    "schema_invalid",
                    "Invalid batch item",
                    errors=[
                        {
                            "pointer": f"/records/{index}",
                            "detail": "Needs exactly record and signature.",
                        }
                    ],
                )
            submissions.append(Submission(item["record"], item["signature"], f"/records/{index}"))
        return submissions, True
    unknown = set(body) - {"record", "signature"}
    missing = {"record", "signature"} - set(body)
    if unknown or missing:
        errors = [{"pointer": f"/{name}", "detail": "Unknown field."} for name in sorted(unknown)]
        errors += [{"pointer": f"/{name}", "detail": "Missing."} for name in sorted(missing)]
        raise Problem(422, "schema_invalid", "Invalid body", errors=errors)
    return [Submission(body["record"], body["signature"])], False


def publish_context() -> PublishContext:
    """This request's publishing: its caller, its time and audit entry, which names the
    versions it publishes."""
    return PublishContext(
        actor=g.actor,
        received_at=g.audit.received_at,
        audit_entry_id=g.request_id,
        clock_skew=timedelta(seconds=current_app.config["EXCHANGE_CLOCK_SKEW_SECONDS"]),
        targets=g.audit.targets,
    )


# One submission is answered with one result, a batch with a list of them.
_PUBLISHED = {
    "oneOf": [
        {"$ref": "#/components/schemas/Published"},
        {"$ref": "#/components/schemas/BatchPublished"},
    ]
}


@bp.route("", methods=["POST"])
@bp.doc(
    summary="Publish a record version, or a batch of them",
    requestBody={
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/Submission"},
                        {"$ref": "#/components/schemas/BatchSubmission"},
                    ]
                }
            }
        },
    },
)
@bp.doc(
    responses={
        "201": {
            "description": "Stored: a Published for one submission, a BatchPublished for a batch",
            "content": {"application/json": {"schema": _PUBLISHED}},
        },
        "200": {
            "description": "Every version was already stored, identical (an idempotent "
            "re-post): a Published for one submission, a BatchPublished for a batch",
            "content": {"application/json": {"schema": _PUBLISHED}},
        },
    }
)
@audited("record.publish")
def publish() -> ResponseReturnValue:
    submissions, batch = _submissions(request_json())
    if batch:
        g.audit.details["batch"] = len(submissions)
    results = publish_records(context=publish_context(), submissions=submissions)
    documents = [
        {"id": r.record_id, "version": r.version, "created": r.created, "receipt": r.receipt}
        for r in results
    ]
    status = 201 if any(r.created for r in results) else 200
    if batch:
        return jsonify({"results": documents}), status
    return jsonify(documents[0]), status


@bp.route("/<record_id:record_id>", methods=["GET"])
@bp.arguments(ReadArgsSchema, location="query", as_kwargs=True)
@bp.doc(
    summary="Read a record (current or given version) with signature and receipt",
    parameters=[PURPOSE_HEADER],
)
@bp.response(200, RecordVersionSchema)
@audited("record.read")
def read(record_id: str, version: int | None = None) -> ResponseReturnValue:
    record_id = reading.record_id_from_path(record_id)
    require_purpose()
    view = reading.read_record(actor=g.actor, record_id=record_id, version=version)
    g.audit.targets.append((view.record_id, view.version.version))
    return jsonify(view.document())


@bp.route("/<record_id:record_id>/versions", methods=["GET"])
@bp.doc(summary="Every version of a record", parameters=[PURPOSE_HEADER])
@bp.response(200, VersionListSchema)
@audited("record.read_versions")
def versions(record_id: str) -> ResponseReturnValue:
    record_id = reading.record_id_from_path(record_id)
    require_purpose()
    views = reading.read_versions(actor=g.actor, record_id=record_id)
    g.audit.targets.extend((v.record_id, v.version.version) for v in views)
    return jsonify({"versions": [v.document() for v in views]})


@bp.route("", methods=["GET"])
@bp.arguments(SearchArgsSchema, location="query", as_kwargs=True)
@bp.doc(summary="Search records the caller may read, newest first", parameters=[PURPOSE_HEADER])
@bp.response(200, SearchPageSchema)
@audited("record.search")
def search(**arguments: Any) -> ResponseReturnValue:
    require_purpose()
    query = reading.SearchQuery(**arguments)
    filters = {k: str(v) for k, v in arguments.items() if k not in ("q", "card", "cursor", "limit")}
    # Search terms and card tokens are kept only as keyed hashes (DESIGN §7).
    for name in ("q", "card"):
        value = getattr(query, name)
        if value:
            filters[name] = protect_term(value, key=load_vault().audit_hmac_key)
    g.audit.details["filters"] = filters
    page = reading.search_records(actor=g.actor, query=query)
    g.audit.targets.extend((v.record_id, v.version.version) for v in page.items)
    return jsonify({"items": [v.document() for v in page.items], "next_cursor": page.next_cursor})
