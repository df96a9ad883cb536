"""``/api/v1/agencies``: the directory, and each agency's public signing keys."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app, g, jsonify
from flask.typing import ResponseReturnValue

from exchange.agencies.models import Agency
from exchange.agencies.service import get_agency, list_agencies
from exchange.apiblueprint import Blueprint
from exchange.auth.mtls import require_system
from exchange.pki.service import agency_keys, key_document
from exchange.trail.recorder import audited

bp = Blueprint("agencies", __name__, url_prefix="/api/v1", description="Agency directory")
bp.before_request(require_system)


class AgencySchema(ma.Schema):
    id = ma.fields.String()
    kind = ma.fields.String()
    name_ja = ma.fields.String()
    name_en = ma.fields.String()
    parent = ma.fields.String(allow_none=True)


class AgencyListSchema(ma.Schema):
    agencies = ma.fields.List(ma.fields.Nested(AgencySchema))


class LimitsSchema(ma.Schema):
    max_batch = ma.fields.Integer(
        metadata={"description": "Most records one batch publish may carry."}
    )
    max_body_bytes = ma.fields.Integer(
        metadata={"description": "Largest request body accepted, in bytes."}
    )


class IdentitySchema(ma.Schema):
    agency = ma.fields.Nested(AgencySchema)
    system = ma.fields.String()
    roles = ma.fields.List(ma.fields.String())
    fingerprint = ma.fields.String()
    limits = ma.fields.Nested(LimitsSchema)


class KeySetSchema(ma.Schema):
    keys = ma.fields.List(
        ma.fields.Dict(),
        metadata={
            "description": "Public JWKs with status, not_before, and when retired, revoked, "
            "compromised."
        },
    )


def agency_document(agency: Agency) -> dict[str, object]:
    return {
        "id": agency.id,
        "kind": agency.kind,
        "name_ja": agency.name_ja,
        "name_en": agency.name_en,
        "parent": agency.parent_id,
    }


@bp.route("/agencies", methods=["GET"])
@bp.response(200, AgencyListSchema)
@audited("agency.list")
def agencies() -> ResponseReturnValue:
    return jsonify({"agencies": [agency_document(a) for a in list_agencies()]})


@bp.route("/agencies/<string:agency_id>", methods=["GET"])
@bp.response(200, AgencySchema)
@audited("agency.read")
def agency(agency_id: str) -> ResponseReturnValue:
    return jsonify(agency_document(get_agency(agency_id[:64])))


@bp.route("/agencies/<string:agency_id>/jwks", methods=["GET"])
@bp.response(200, KeySetSchema)
@audited("agency.keys.read")
def agency_jwks(agency_id: str) -> ResponseReturnValue:
    agency = get_agency(agency_id[:64])
    return jsonify({"keys": [key_document(k) for k in agency_keys(agency.id)]})


@bp.route("/identity", methods=["GET"])
@bp.response(200, IdentitySchema)
@audited("identity.read")
def identity() -> ResponseReturnValue:
    actor = g.actor
    return jsonify(
        {
            "agency": agency_document(get_agency(actor.agency_id)),
            "system": actor.system_name,
            "roles": sorted(actor.roles),
            "fingerprint": actor.fingerprint,
            # What a client splits its batches by, so it never hard-codes the server's limits.
            "limits": {
                "max_batch": current_app.config["EXCHANGE_MAX_BATCH"],
                "max_body_bytes": current_app.config["MAX_CONTENT_LENGTH"],
            },
        }
    )
