"""``/api/v1/notices``: notices to sending-country governments, signed by agency systems.

Each body is ``{"notice": document, "signature": jws}`` or ``{"step": document,
"signature": jws}``: the system signs with its agency's own key, and names the person who
drafted, approved or dispatched (a user of the agency with the role the step needs).
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, g, jsonify
from flask.typing import ResponseReturnValue

from exchange.apiblueprint import Blueprint
from exchange.auth.mtls import require_system
from exchange.clock import rfc3339
from exchange.jsonbody import request_json
from exchange.notices import reading as notice_reading
from exchange.notices import service
from exchange.notices.handling import notes_refusal, request_context
from exchange.notices.models import NOTICE_STATES, Notice
from exchange.notices.package import package_document, package_pdf
from exchange.problems import Problem
from exchange.trail.recorder import audited
from schemas.notice import NoticeSchema, NoticeStepSchema

bp = Blueprint(
    "notices",
    __name__,
    url_prefix="/api/v1/notices",
    description="Notices to sending-country governments (measure 147)",
)
bp.before_request(require_system)

_SIGNATURE = (
    "JWS compact serialization with detached payload (RFC 7515 appendix F) over the RFC 8785 "
    "bytes of the document, by the sending agency's key."
)


class NoticeSubmissionSchema(ma.Schema):
    notice = ma.fields.Nested(NoticeSchema, required=True)
    signature = ma.fields.String(required=True, metadata={"description": _SIGNATURE})


class StepSubmissionSchema(ma.Schema):
    step = ma.fields.Nested(NoticeStepSchema, required=True)
    signature = ma.fields.String(required=True, metadata={"description": _SIGNATURE})


class NoticeStateSchema(ma.Schema):
    id = ma.fields.String()
    state = ma.fields.String(metadata={"enum": list(NOTICE_STATES)})
    version = ma.fields.Integer()
    sha256 = ma.fields.String(metadata={"description": "Of the stored document's RFC 8785 bytes."})


class NoticeHistorySchema(ma.Schema):
    id = ma.fields.String()
    state = ma.fields.String(metadata={"enum": list(NOTICE_STATES)})
    agency = ma.fields.String()
    agency_kind = ma.fields.String()
    country = ma.fields.String()
    version = ma.fields.Integer()
    versions = ma.fields.List(
        ma.fields.Dict(), metadata={"description": "Each version as signed: notice, signature."}
    )
    steps = ma.fields.List(
        ma.fields.Dict(), metadata={"description": "Each step as signed: step, signature."}
    )


class NoticeSummarySchema(ma.Schema):
    id = ma.fields.String()
    state = ma.fields.String()
    agency = ma.fields.String()
    country = ma.fields.String()
    version = ma.fields.Integer()
    updated_at = ma.fields.String()


class NoticeListSchema(ma.Schema):
    notices = ma.fields.List(ma.fields.Nested(NoticeSummarySchema))


class ListArgsSchema(ma.Schema):
    state = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(NOTICE_STATES)),
        metadata={"description": "Only notices in these states."},
    )


class PackageSchema(ma.Schema):
    format = ma.fields.String()
    notice = ma.fields.Dict(metadata={"description": "document, signature, typ, sha256"})
    steps = ma.fields.List(ma.fields.Dict())
    keys = ma.fields.List(
        ma.fields.Dict(), metadata={"description": "agency, jwks (where it is served), jwk"}
    )


def _signed(member: str) -> service.Signed:
    body: Any = request_json()
    if not isinstance(body, dict):
        raise Problem(
            422,
            "schema_invalid",
            "Invalid body",
            errors=[{"pointer": "", "detail": "A JSON object is required."}],
        )
    unknown = set(body) - {member, "signature"}
    missing = {member, "signature"} - set(body)
    if unknown or missing:
        errors = [{"pointer": f"/{name}", "detail": "Unknown field."} for name in sorted(unknown)]
        errors += [{"pointer": f"/{name}", "detail": "Missing."} for name in sorted(missing)]
        raise Problem(422, "schema_invalid", "Invalid body", errors=errors)
    return service.Signed(body[member], body["signature"])


def _state(notice: Notice) -> dict[str, Any]:
    return {
        "id": notice.id,
        "state": notice.state,
        "version": notice.version,
        "sha256": notice.head_sha256,
    }


def _body(schema: str) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


@bp.route("", methods=["POST"])
@bp.doc(summary="Draft a notice (version 1, signed)", requestBody=_body("NoticeSubmission"))
@bp.response(201, NoticeStateSchema)
@audited("notice.draft")
@notes_refusal
def draft() -> ResponseReturnValue:
    notice = service.draft_notice(context=request_context(), submitted=_signed("notice"))
    return jsonify(_state(notice)), 201


@bp.route("", methods=["GET"])
@bp.arguments(ListArgsSchema, location="query", as_kwargs=True)
@bp.doc(summary="Notices the caller may see, latest change first")
@bp.response(200, NoticeListSchema)
@audited("notice.list")
@notes_refusal
def index(state: list[str] | None = None) -> ResponseReturnValue:
    notices = notice_reading.list_notices(actor=g.actor, states=state or ())
    return jsonify(
        {
            "notices": [
                {
                    "id": n.id,
                    "state": n.state,
                    "agency": n.agency_id,
                    "country": n.country,
                    "version": n.version,
                    "updated_at": rfc3339(n.updated_at),
                }
                for n in notices
            ]
        }
    )


@bp.route("/<string:notice_id>", methods=["GET"])
@bp.doc(summary="A notice with its whole signed history")
@bp.response(200, NoticeHistorySchema)
@audited("notice.read")
@notes_refusal
def read(notice_id: str) -> ResponseReturnValue:
    notice = notice_reading.get_notice(actor=g.actor, notice_id=notice_id)
    g.audit.details["notice"] = notice.id
    return jsonify(notice_reading.signed_history(notice))


@bp.route("/<string:notice_id>", methods=["PUT"])
@bp.doc(summary="Edit a draft: its next version, signed", requestBody=_body("NoticeSubmission"))
@bp.response(200, NoticeStateSchema)
@audited("notice.edit")
@notes_refusal
def edit(notice_id: str) -> ResponseReturnValue:
    notice = service.edit_notice(
        context=request_context(), notice_id=notice_id, submitted=_signed("notice")
    )
    return jsonify(_state(notice))


def _take(notice_id: str, step: str) -> ResponseReturnValue:
    notice = service.take_step(
        context=request_context(), notice_id=notice_id, step=step, submitted=_signed("step")
    )
    return jsonify(_state(notice))


_STEP_BODY = _body("NoticeStepSubmission")


@bp.route("/<string:notice_id>/submission", methods=["POST"])
@bp.doc(summary="Submit the draft for approval (signed step)", requestBody=_STEP_BODY)
@bp.response(200, NoticeStateSchema)
@audited("notice.submit")
@notes_refusal
def submit(notice_id: str) -> ResponseReturnValue:
    return _take(notice_id, "submission")


@bp.route("/<string:notice_id>/approval", methods=["POST"])
@bp.doc(
    summary="Approve: a second person of the drafting agency with the approver role",
    requestBody=_STEP_BODY,
)
@bp.response(200, NoticeStateSchema)
@audited("notice.approve")
@notes_refusal
def approve(notice_id: str) -> ResponseReturnValue:
    return _take(notice_id, "approval")


@bp.route("/<string:notice_id>/rejection", methods=["POST"])
@bp.doc(summary="Reject, with a reason: back to the drafter", requestBody=_STEP_BODY)
@bp.response(200, NoticeStateSchema)
@audited("notice.reject")
@notes_refusal
def reject(notice_id: str) -> ResponseReturnValue:
    return _take(notice_id, "rejection")


@bp.route("/<string:notice_id>/dispatch", methods=["POST"])
@bp.doc(summary="Countersign and dispatch (MOFA only)", requestBody=_STEP_BODY)
@bp.response(200, NoticeStateSchema)
@audited("notice.dispatch")
@notes_refusal
def dispatch(notice_id: str) -> ResponseReturnValue:
    return _take(notice_id, "dispatch")


@bp.route("/<string:notice_id>/answer", methods=["POST"])
@bp.doc(summary="Record the government's answer", requestBody=_STEP_BODY)
@bp.response(200, NoticeStateSchema)
@audited("notice.answer")
@notes_refusal
def answer(notice_id: str) -> ResponseReturnValue:
    return _take(notice_id, "answer")


@bp.route("/<string:notice_id>/package", methods=["GET"])
@bp.doc(summary="The dispatched package: documents, detached signatures, public keys")
@bp.response(200, PackageSchema)
@audited("notice.package")
@notes_refusal
def package(notice_id: str) -> ResponseReturnValue:
    notice = notice_reading.get_notice(actor=g.actor, notice_id=notice_id)
    g.audit.details["notice"] = notice.id
    return jsonify(package_document(notice))


@bp.route("/<string:notice_id>/package.pdf", methods=["GET"])
@bp.doc(
    summary="The dispatched notice as a PDF, in Japanese and English",
    responses={
        "200": {
            "description": "PDF",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
@audited("notice.package_pdf")
@notes_refusal
def package_as_pdf(notice_id: str) -> ResponseReturnValue:
    notice = notice_reading.get_notice(actor=g.actor, notice_id=notice_id)
    g.audit.details["notice"] = notice.id
    return Response(
        package_pdf(notice),
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="notice-{notice.id}.pdf"'},
    )
