"""``/api/v1/referrals``: send, inbox and outbox, one referral with its signed history,
the receivers' signed steps, and the agency's referral feed."""

from __future__ import annotations

import base64
import binascii
from datetime import timedelta
from typing import Any

import marshmallow as ma
from flask import Response, current_app, g, jsonify
from flask.typing import ResponseReturnValue

from exchange.apiblueprint import Blueprint
from exchange.auth.mtls import require_system
from exchange.errors import Kind, Refusal
from exchange.jsonbody import load_body
from exchange.records.reading import record_id_from_path
from exchange.referrals import reading
from exchange.referrals.service import ReferralContext, send_referral, take_step
from exchange.trail.entries import MAX_POSITION
from exchange.trail.recorder import audited
from exchange.urlnumbers import CanonicalInteger
from schemas.referral import (
    ATTACHMENT_MAX_BYTES,
    ATTACHMENT_MEDIA_TYPES,
    ATTACHMENTS_MAX,
    REFERRAL_KINDS,
    SHA256_PATTERN,
)

bp = Blueprint("referrals", __name__, url_prefix="/api/v1/referrals", description="Referrals")
bp.before_request(require_system)


class AttachmentContentSchema(ma.Schema):
    sha256 = ma.fields.String(
        required=True,
        validate=ma.validate.Regexp(SHA256_PATTERN),
        metadata={"pattern": SHA256_PATTERN},
    )
    content = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=(ATTACHMENT_MAX_BYTES + 2) // 3 * 4),
        metadata={"description": "The file's bytes, base64 (RFC 4648 §4).", "format": "byte"},
    )


class SendSchema(ma.Schema):
    referral = ma.fields.Dict(
        required=True, metadata={"description": "The referral (schema referral/1)."}
    )
    signature = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=8192),
        metadata={
            "description": "Detached JWS (typ exchange-referral+jws) over its RFC 8785 bytes."
        },
    )
    attachments = ma.fields.List(
        ma.fields.Nested(AttachmentContentSchema),
        load_default=list,
        validate=ma.validate.Length(max=ATTACHMENTS_MAX),
    )


class StepSchema(ma.Schema):
    step = ma.fields.Dict(
        required=True, metadata={"description": "The step (schema referral_step/1)."}
    )
    signature = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=8192),
        metadata={
            "description": "Detached JWS (typ exchange-referral+jws) over its RFC 8785 bytes."
        },
    )


class ListArgsSchema(ma.Schema):
    box = ma.fields.String(load_default="inbox", validate=ma.validate.OneOf(reading.BOXES))
    state = ma.fields.String(load_default="open", validate=ma.validate.OneOf(reading.TABS))
    kind = ma.fields.String(validate=ma.validate.OneOf(REFERRAL_KINDS))
    agency = ma.fields.String(
        validate=ma.validate.Regexp(r"^[a-z0-9][a-z0-9-]{0,31}$"),
        metadata={"description": "The sender (inbox) or a receiver (outbox)."},
    )
    limit = CanonicalInteger(
        load_default=50, validate=ma.validate.Range(min=1, max=reading.LIST_MAX)
    )


class EventsArgsSchema(ma.Schema):
    after = CanonicalInteger(
        load_default=0,
        validate=ma.validate.Range(min=0, max=MAX_POSITION),
        metadata={"description": "The position after which to read."},
    )
    limit = CanonicalInteger(load_default=100, validate=ma.validate.Range(min=1, max=1000))


class ReceiverPartSchema(ma.Schema):
    agency = ma.fields.String()
    state = ma.fields.String()
    assignee = ma.fields.String(allow_none=True)
    outcome = ma.fields.String(allow_none=True)
    acknowledged_at = ma.fields.String(allow_none=True)
    closed_at = ma.fields.String(allow_none=True)
    overdue = ma.fields.Boolean()


class ReferralSummarySchema(ma.Schema):
    id = ma.fields.String()
    kind = ma.fields.String()
    sender = ma.fields.String()
    due = ma.fields.String()
    issued_at = ma.fields.String()
    records = ma.fields.List(ma.fields.Dict())
    requested_action = ma.fields.String()
    receivers = ma.fields.List(ma.fields.Nested(ReceiverPartSchema))
    closed = ma.fields.Boolean()
    overdue = ma.fields.Boolean()


class ReferralListSchema(ma.Schema):
    referrals = ma.fields.List(ma.fields.Nested(ReferralSummarySchema))


class SignedStepSchema(ma.Schema):
    step = ma.fields.Dict()
    signature = ma.fields.String()
    sha256 = ma.fields.String()
    kid = ma.fields.String()
    received_at = ma.fields.String()


class ReferralDocumentSchema(ReferralSummarySchema):
    referral = ma.fields.Dict()
    signature = ma.fields.String()
    sha256 = ma.fields.String()
    kid = ma.fields.String()
    received_at = ma.fields.String()
    steps = ma.fields.List(ma.fields.Nested(SignedStepSchema))


class ReferralEventSchema(ma.Schema):
    position = ma.fields.Integer()
    referral = ma.fields.String()
    step = ma.fields.String()
    step_id = ma.fields.String(allow_none=True)
    kind = ma.fields.String()
    sender = ma.fields.String()
    agency = ma.fields.String(metadata={"description": "The agency that took the step."})
    at = ma.fields.String()


class ReferralEventPageSchema(ma.Schema):
    events = ma.fields.List(ma.fields.Nested(ReferralEventSchema))
    next_cursor = ma.fields.Integer()


def _json_body(schema: type[ma.Schema]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _context() -> ReferralContext:
    return ReferralContext(
        actor=g.actor,
        received_at=g.audit.received_at,
        audit_entry_id=g.request_id,
        clock_skew=timedelta(seconds=current_app.config["EXCHANGE_CLOCK_SKEW_SECONDS"]),
        details=g.audit.details,
    )


def _files(items: list[dict[str, str]]) -> dict[str, bytes]:
    files = {}
    for index, item in enumerate(items):
        try:
            files[item["sha256"]] = base64.b64decode(item["content"], validate=True)
        except (binascii.Error, ValueError):
            raise Refusal(
                Kind.INVALID,
                "schema_invalid",
                "Invalid body",
                errors=[{"pointer": f"/attachments/{index}/content", "detail": "Not base64."}],
            ) from None
    return files


def _view(referral_id: str) -> reading.ReferralView:
    return reading.get_referral(actor=g.actor, referral_id=referral_id, now=g.audit.received_at)


@bp.route("", methods=["POST"])
@bp.doc(
    summary="Send a signed referral to one or more agencies", requestBody=_json_body(SendSchema)
)
@bp.response(201, ReferralDocumentSchema)
@audited("referral.send")
def send() -> ResponseReturnValue:
    body = load_body(SendSchema())
    referral = send_referral(
        context=_context(),
        document=body["referral"],
        signature=body["signature"],
        files=_files(body["attachments"]),
    )
    return jsonify(reading.referral_document(_view(referral.id))), 201


@bp.route("", methods=["GET"])
@bp.arguments(ListArgsSchema, location="query", as_kwargs=True)
@bp.doc(summary="The agency's inbox or outbox: open, overdue or closed referrals")
@bp.response(200, ReferralListSchema)
@audited("referral.list")
def list_referrals(
    box: str, state: str, limit: int, kind: str | None = None, agency: str | None = None
) -> ResponseReturnValue:
    g.audit.details.update({"box": box, "state": state})
    views = reading.list_referrals(
        actor=g.actor,
        box=box,
        tab=state,
        now=g.audit.received_at,
        kind=kind,
        agency=agency,
        limit=limit,
    )
    return jsonify({"referrals": [view.summary() for view in views]})


@bp.route("/events", methods=["GET"])
@bp.arguments(EventsArgsSchema, location="query", as_kwargs=True)
@bp.doc(summary="The agency's referral feed: every step of its referrals, in order")
@bp.response(200, ReferralEventPageSchema)
@audited("referral.events")
def events(after: int, limit: int) -> ResponseReturnValue:
    found, cursor = reading.referral_events(actor=g.actor, after=after, limit=limit)
    g.audit.details.update({"after": after, "next_cursor": cursor})
    return jsonify({"events": found, "next_cursor": cursor})


@bp.route("/<record_id:referral_id>", methods=["GET"])
@bp.doc(summary="A referral with its whole signed history")
@bp.response(200, ReferralDocumentSchema)
@audited("referral.read")
def read(referral_id: str) -> ResponseReturnValue:
    referral_id = record_id_from_path(referral_id)
    g.audit.details["referral"] = referral_id
    return jsonify(reading.referral_document(_view(referral_id)))


@bp.route("/<record_id:referral_id>/attachments/<string:sha256>", methods=["GET"])
@bp.doc(
    summary="An attachment of a referral, as the signed referral names it",
    responses={
        "200": {
            "description": "The file's bytes; its SHA-256 is the one signed in the referral",
            "content": {
                media_type: {"schema": {"type": "string", "format": "binary"}}
                for media_type in ATTACHMENT_MEDIA_TYPES
            },
        }
    },
)
@audited("referral.attachment")
def attachment(referral_id: str, sha256: str) -> ResponseReturnValue:
    referral_id = record_id_from_path(referral_id)
    g.audit.details.update({"referral": referral_id, "attachment": sha256[:64]})
    declared, content = reading.referral_attachment(_view(referral_id), sha256[:64])
    return Response(
        content,
        content_type=declared["media_type"],
        headers={"X-Content-Type-Options": "nosniff"},
    )


def _step(referral_id: str, step: str) -> ResponseReturnValue:
    referral_id = record_id_from_path(referral_id)
    body = load_body(StepSchema())
    take_step(
        context=_context(),
        referral_id=referral_id,
        step=step,
        document=body["step"],
        signature=body["signature"],
    )
    return jsonify(reading.referral_document(_view(referral_id))), 201


@bp.route("/<record_id:referral_id>/acknowledgement", methods=["POST"])
@bp.doc(summary="Acknowledge receipt (signed)", requestBody=_json_body(StepSchema))
@bp.response(201, ReferralDocumentSchema)
@audited("referral.acknowledge")
def acknowledge(referral_id: str) -> ResponseReturnValue:
    return _step(referral_id, "acknowledged")


@bp.route("/<record_id:referral_id>/assignment", methods=["POST"])
@bp.doc(
    summary="Assign to a person of the receiving agency (signed)",
    requestBody=_json_body(StepSchema),
)
@bp.response(201, ReferralDocumentSchema)
@audited("referral.assign")
def assign(referral_id: str) -> ResponseReturnValue:
    return _step(referral_id, "assigned")


@bp.route("/<record_id:referral_id>/closure", methods=["POST"])
@bp.doc(summary="Close with an outcome (signed)", requestBody=_json_body(StepSchema))
@bp.response(201, ReferralDocumentSchema)
@audited("referral.close")
def close(referral_id: str) -> ResponseReturnValue:
    return _step(referral_id, "closed")
