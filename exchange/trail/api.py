"""``/api/v1/audit``: checkpoints, proofs, entries and cosignatures (DESIGN §7)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, current_app, g, jsonify
from flask.typing import ResponseReturnValue

from exchange.apiblueprint import Blueprint
from exchange.auth.mtls import require_system
from exchange.jsonbody import load_body
from exchange.pki.vault import load_vault
from exchange.problems import Problem
from exchange.trail import published_log, term_lookup, witnesses
from exchange.trail.entries import MAX_POSITION, protect_term
from exchange.trail.integrator_process import log_origin
from exchange.trail.recorder import audited
from exchange.urlnumbers import CanonicalInteger
from schemas import residence_card_token

bp = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="Verifiable audit log")
bp.before_request(require_system)

_SIZE = ma.validate.Range(min=0, max=MAX_POSITION)
_NOTE = "text/plain; charset=utf-8"


class CheckpointArgsSchema(ma.Schema):
    size = CanonicalInteger(validate=_SIZE, metadata={"description": "Default: the latest."})


class InclusionArgsSchema(ma.Schema):
    index = CanonicalInteger(validate=_SIZE, metadata={"description": "Leaf index."})
    entry = ma.fields.UUID(
        metadata={"description": "Audit entry id, e.g. a receipt's audit_entry."}
    )
    size = CanonicalInteger(
        validate=_SIZE, metadata={"description": "Tree size; default the latest checkpoint."}
    )


class ConsistencyArgsSchema(ma.Schema):
    old = CanonicalInteger(required=True, validate=_SIZE)
    new = CanonicalInteger(validate=_SIZE, metadata={"description": "Default: the latest."})


class EntriesArgsSchema(ma.Schema):
    start = CanonicalInteger(required=True, validate=_SIZE)
    end = CanonicalInteger(validate=_SIZE)


class InclusionSchema(ma.Schema):
    index = ma.fields.Integer()
    size = ma.fields.Integer()
    leaf_hash = ma.fields.String(metadata={"description": "Base64 RFC 9162 leaf hash."})
    proof = ma.fields.List(ma.fields.String(), metadata={"description": "Base64 hashes."})
    entry = ma.fields.String(metadata={"description": "Base64 RFC 8785 bytes of the entry."})


class ConsistencySchema(ma.Schema):
    old = ma.fields.Integer()
    new = ma.fields.Integer()
    proof = ma.fields.List(ma.fields.String())


class EntrySchema(ma.Schema):
    index = ma.fields.Integer()
    id = ma.fields.String()
    entry = ma.fields.String(metadata={"description": "Base64 RFC 8785 bytes: the leaf data."})


class EntriesSchema(ma.Schema):
    start = ma.fields.Integer()
    end = ma.fields.Integer()
    size = ma.fields.Integer()
    entries = ma.fields.List(ma.fields.Nested(EntrySchema))


class CosignatureSubmissionSchema(ma.Schema):
    size = ma.fields.Integer(required=True, strict=True, validate=_SIZE)
    cosignature = ma.fields.String(
        required=True,
        validate=ma.validate.Length(max=1000),
        metadata={"description": "One C2SP signed-note signature line (tlog-cosignature)."},
    )


class CosignatureSchema(ma.Schema):
    size = ma.fields.Integer()
    witness = ma.fields.String()
    kid = ma.fields.String()
    cosignature = ma.fields.String()
    signed_at = ma.fields.String()


class CosignatureListSchema(ma.Schema):
    cosignatures = ma.fields.List(ma.fields.Nested(CosignatureSchema))


# Exactly one of the two is looked up.
ONE_TERM = {"oneOf": [{"required": ["term"]}, {"required": ["card_number"]}]}


class LookupSchema(ma.Schema):
    term = ma.fields.String(
        validate=ma.validate.Length(min=1, max=500),
        metadata={"description": "A search term or residence-card token, in the clear."},
    )
    card_number = ma.fields.String(
        validate=ma.validate.Length(min=1, max=40),
        metadata={
            "description": "A residence card number: looked up as its matching token.",
            "pattern": "^[A-Z]{2}[0-9]{8}[A-Z]{2}$",
        },
    )
    since = ma.fields.AwareDateTime()

    @ma.validates_schema
    def one_of(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("term" in data) == ("card_number" in data):
            raise ma.ValidationError("Give term or card_number.", "term")


class LookupEntrySchema(ma.Schema):
    id = ma.fields.String()
    time = ma.fields.String()
    action = ma.fields.String()
    agency = ma.fields.String(allow_none=True)
    system = ma.fields.String(allow_none=True)
    purpose = ma.fields.String(allow_none=True)
    index = ma.fields.Integer(
        allow_none=True, metadata={"description": "Leaf index, once sequenced."}
    )


class LookupResultSchema(ma.Schema):
    hash = ma.fields.String(metadata={"description": "The keyed hash the entries hold."})
    entries = ma.fields.List(ma.fields.Nested(LookupEntrySchema))


def card_token_of(number: str) -> str:
    try:
        return residence_card_token(number, key=load_vault().matching_key)
    except ValueError:
        raise Problem(
            422,
            "schema_invalid",
            "Invalid body",
            errors=[{"pointer": "/card_number", "detail": "Not a residence card number."}],
        ) from None


def _text(body: str) -> Response:
    return Response(body, mimetype="text/plain", content_type=_NOTE)


@bp.route("/checkpoint", methods=["GET"])
@bp.arguments(CheckpointArgsSchema, location="query", as_kwargs=True)
@bp.doc(
    summary="The latest checkpoint as a C2SP signed note, with witnesses' cosignatures",
    responses={"200": {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
@audited("audit.checkpoint.read")
def checkpoint(size: int | None = None) -> ResponseReturnValue:
    checkpoint_size, note = published_log.cosigned_note(size=size)
    g.audit.details["size"] = checkpoint_size
    return _text(note)


@bp.route("/key", methods=["GET"])
@bp.doc(
    summary="The log's C2SP verifier key",
    responses={"200": {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
@audited("audit.key.read")
def verifier_key() -> ResponseReturnValue:
    return _text(load_vault().log_signer(log_origin(current_app)).verifier_key() + "\n")


@bp.route("/proof/inclusion", methods=["GET"])
@bp.arguments(InclusionArgsSchema, location="query", as_kwargs=True)
@bp.response(200, InclusionSchema)
@audited("audit.proof.inclusion")
def inclusion_proof(
    index: int | None = None, entry: Any = None, size: int | None = None
) -> ResponseReturnValue:
    proof = published_log.inclusion(
        actor=g.actor,
        index=index,
        entry_id=None if entry is None else str(entry),
        size=size,
    )
    g.audit.details.update({"index": proof.index, "size": proof.size})
    return jsonify(proof.document())


@bp.route("/proof/consistency", methods=["GET"])
@bp.arguments(ConsistencyArgsSchema, location="query", as_kwargs=True)
@bp.response(200, ConsistencySchema)
@audited("audit.proof.consistency")
def consistency_proof(old: int, new: int | None = None) -> ResponseReturnValue:
    document = published_log.consistency(old_size=old, new_size=new)
    g.audit.details.update({"old": document["old"], "new": document["new"]})
    return jsonify(document)


@bp.route("/entries", methods=["GET"])
@bp.arguments(EntriesArgsSchema, location="query", as_kwargs=True)
@bp.response(200, EntriesSchema)
@audited("audit.entries.read")
def entries(start: int, end: int | None = None) -> ResponseReturnValue:
    limit = int(current_app.config["EXCHANGE_PROOF_MAX_ENTRIES"])
    document = published_log.entries(actor=g.actor, start=start, end=end, limit=limit)
    g.audit.details.update({"start": document["start"], "end": document["end"]})
    return jsonify(document)


@bp.route("/cosignatures", methods=["POST"])
@bp.doc(
    summary="A witness cosigns a checkpoint (C2SP tlog-cosignature)",
    requestBody={
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/CosignatureSubmission"}}
        },
    },
)
@bp.response(201, CosignatureSchema)
@audited("audit.cosignature.add")
def add_cosignature() -> ResponseReturnValue:
    body = load_body(CosignatureSubmissionSchema())
    g.audit.details["size"] = body["size"]
    document, created = witnesses.accept_cosignature(
        actor=g.actor, size=body["size"], line=body["cosignature"]
    )
    return jsonify(document), 201 if created else 200


@bp.route("/cosignatures", methods=["GET"])
@bp.arguments(CheckpointArgsSchema, location="query", as_kwargs=True)
@bp.response(200, CosignatureListSchema)
@audited("audit.cosignature.list")
def list_cosignatures(size: int | None = None) -> ResponseReturnValue:
    return jsonify({"cosignatures": witnesses.cosignatures(size=size)})


@bp.route("/lookup", methods=["POST"])
@bp.doc(
    summary="Auditors: entries whose search terms or card tokens hash to this term",
    requestBody={
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Lookup"}}},
    },
)
@bp.response(200, LookupResultSchema)
@audited("audit.lookup")
def lookup_term() -> ResponseReturnValue:
    body = load_body(LookupSchema())
    term = body.get("term") or card_token_of(body["card_number"])
    g.audit.details["term"] = protect_term(term, key=load_vault().audit_hmac_key)
    limit = int(current_app.config["EXCHANGE_PROOF_MAX_ENTRIES"])
    return jsonify(
        term_lookup.lookup_term(actor=g.actor, term=term, since=body.get("since"), limit=limit)
    )
