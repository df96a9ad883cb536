"""``/api/v1/subscriptions``: subscriptions, the pull feed, acknowledgements, dead letters."""

from __future__ import annotations

import time
from typing import Any

import marshmallow as ma
from flask import Response, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from exchange.agencies.policy import current_policy
from exchange.apiblueprint import Blueprint
from exchange.auth.mtls import require_system
from exchange.extensions import db
from exchange.feeds import deadletters, service
from exchange.feeds.events import LAST_POSITION, EventPage, read_events
from exchange.feeds.signal import feed_generation, wait_for_feed
from exchange.feeds.waiting import RETRY_AFTER_SECONDS, waiting_pulls
from exchange.jsonbody import load_body
from exchange.problems import Problem
from exchange.records.api import require_purpose
from exchange.records.schemas import PURPOSE_HEADER
from exchange.trail.entries import MAX_POSITION
from exchange.trail.recorder import audited
from exchange.unit_of_work import wait_outside
from exchange.urlnumbers import CanonicalDecimal, CanonicalInteger
from schemas import RECORD_TYPES

bp = Blueprint(
    "subscriptions", __name__, url_prefix="/api/v1/subscriptions", description="Subscriptions"
)
bp.before_request(require_system)


@bp.before_request
def _note_subscription() -> None:
    # Every route under a subscription names it in the request's audit entry.
    subscription_id = (request.view_args or {}).get("subscription_id")
    if isinstance(subscription_id, str):
        g.audit.details["subscription"] = subscription_id[:36]


def _own(subscription_id: str) -> Any:
    return service.get_subscription(actor=g.actor, subscription_id=subscription_id)


# While a long poll waits, it looks again at least this often: another process's
# integrator may have added positions without this process hearing of it.
_RECHECK_SECONDS = 0.2


def _accepted_values() -> ma.fields.Field[Any]:
    return ma.fields.List(service.filter_value_field(), validate=ma.validate.Length(min=1, max=50))


FiltersSchema = ma.Schema.from_dict(
    {name: _accepted_values() for name in service.FILTERS}, name="Filters"
)


class SubscriptionCreateSchema(ma.Schema):
    name = service.subscription_name_field(required=True)
    feed = ma.fields.String(
        load_default="records",
        validate=ma.validate.OneOf(service.FEEDS),
        metadata={
            "description": "records: the record feed. referrals: every step of the referrals "
            "the agency sends or receives (push only, no types or filters)."
        },
    )
    types = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(RECORD_TYPES)),
        load_default=list,
        validate=ma.validate.Length(max=len(RECORD_TYPES)),
        metadata={"description": "The record types followed: one or more (records only)."},
    )
    filters = ma.fields.Nested(
        FiltersSchema,
        load_default=dict,
        metadata={"description": "Filter name to accepted values; every filter given must match."},
    )
    mode = ma.fields.String(required=True, validate=ma.validate.OneOf(service.MODES))
    endpoint = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=[ma.validate.Length(max=500), service.validate_endpoint],
        metadata={
            "description": "https URL that push deliveries go to (push only).",
            "pattern": service.ENDPOINT_PATTERN,
        },
    )


# A push subscription names its endpoint; a pull subscription has none. The record feed
# is followed by types; the referral events are pushed, with neither types nor filters.
SUBSCRIPTION_VARIANTS = {
    "allOf": [
        {
            "if": {"properties": {"mode": {"const": "push"}}},
            "then": {"required": ["endpoint"], "properties": {"endpoint": {"type": "string"}}},
            "else": {"properties": {"endpoint": {"type": "null"}}},
        },
        {
            "if": {"required": ["feed"], "properties": {"feed": {"const": "referrals"}}},
            "then": {
                "properties": {
                    "mode": {"const": "push"},
                    "types": {"maxItems": 0},
                    "filters": {"maxProperties": 0},
                }
            },
            "else": {"required": ["types"], "properties": {"types": {"minItems": 1}}},
        },
    ]
}


class SubscriptionStateSchema(ma.Schema):
    state = ma.fields.String(required=True, validate=ma.validate.OneOf(service.STATES))


class AckSchema(ma.Schema):
    cursor = ma.fields.Integer(
        required=True, strict=True, validate=ma.validate.Range(min=0, max=MAX_POSITION)
    )


class EventsArgsSchema(ma.Schema):
    after = CanonicalInteger(
        validate=ma.validate.Range(min=0, max=MAX_POSITION),
        metadata={"description": "Feed cursor; default: the subscription's acknowledged one."},
    )
    limit = CanonicalInteger(load_default=100, validate=ma.validate.Range(min=1, max=1000))
    wait = CanonicalDecimal(
        load_default=0.0,
        validate=ma.validate.Range(min=0, max=30),
        metadata={"description": "Seconds to wait for new events when there are none."},
    )


class SubscriptionSchema(ma.Schema):
    id = ma.fields.String()
    agency = ma.fields.String()
    system = ma.fields.Integer()
    name = ma.fields.String()
    feed = ma.fields.String()
    types = ma.fields.List(ma.fields.String())
    filters = ma.fields.Dict()
    mode = ma.fields.String()
    endpoint = ma.fields.String(allow_none=True)
    state = ma.fields.String()
    cursor = ma.fields.Integer()
    created_at = ma.fields.String()
    dead_letters = ma.fields.Integer()
    failing_since = ma.fields.String(allow_none=True)
    last_error = ma.fields.String(allow_none=True)


class SubscriptionListSchema(ma.Schema):
    subscriptions = ma.fields.List(ma.fields.Nested(SubscriptionSchema))


class EventPageSchema(ma.Schema):
    events = ma.fields.List(
        ma.fields.Dict(),
        metadata={
            "description": "event_id, position, kind (created|amended|withdrawn), record, "
            "signature, receipt, received_at, key, flags"
        },
    )
    next_cursor = ma.fields.Integer()


def _json_body(schema: type[ma.Schema]) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": schema}},
    }


@bp.route("", methods=["POST"])
@bp.doc(
    summary="Subscribe to record types, narrowed by filters, or to the referral events",
    requestBody=_json_body(SubscriptionCreateSchema),
)
@bp.response(201, SubscriptionSchema)
@audited("subscription.create")
def create() -> ResponseReturnValue:
    body = load_body(SubscriptionCreateSchema())
    subscription = service.create_subscription(
        actor=g.actor,
        policy=current_policy(),
        name=body["name"],
        types=body["types"],
        filters=body["filters"],
        mode=body["mode"],
        endpoint=body["endpoint"],
        feed=body["feed"],
    )
    g.audit.details["subscription"] = subscription.id
    return jsonify(service.subscription_document(subscription)), 201


@bp.route("", methods=["GET"])
@bp.response(200, SubscriptionListSchema)
@audited("subscription.list")
def list_all() -> ResponseReturnValue:
    subscriptions = service.list_subscriptions(actor=g.actor)
    return jsonify({"subscriptions": [service.subscription_document(s) for s in subscriptions]})


@bp.route("/<string:subscription_id>", methods=["GET"])
@bp.response(200, SubscriptionSchema)
@audited("subscription.read")
def read(subscription_id: str) -> ResponseReturnValue:
    subscription = _own(subscription_id)
    return jsonify(service.subscription_document(subscription))


@bp.route("/<string:subscription_id>", methods=["PATCH"])
@bp.doc(summary="Pause or resume", requestBody=_json_body(SubscriptionStateSchema))
@bp.response(200, SubscriptionSchema)
@audited("subscription.update")
def update(subscription_id: str) -> ResponseReturnValue:
    body = load_body(SubscriptionStateSchema())
    g.audit.details["state"] = body["state"]
    subscription = service.set_state(
        actor=g.actor, subscription_id=subscription_id, state=body["state"]
    )
    return jsonify(service.subscription_document(subscription))


@bp.route("/<string:subscription_id>", methods=["DELETE"])
@bp.response(204)
@audited("subscription.delete")
def delete(subscription_id: str) -> ResponseReturnValue:
    service.delete_subscription(actor=g.actor, subscription_id=subscription_id)
    return Response(status=204)


@bp.route("/<string:subscription_id>/events", methods=["GET"])
@bp.arguments(EventsArgsSchema, location="query", as_kwargs=True)
@bp.doc(summary="The pull feed: events after a cursor, long-polling", parameters=[PURPOSE_HEADER])
@bp.response(200, EventPageSchema)
@audited("feed.pull")
def events(
    subscription_id: str, limit: int, wait: float, after: int | None = None
) -> ResponseReturnValue:
    require_purpose()
    subscription = _own(subscription_id)
    if subscription.mode != "pull" or subscription.state != "active":
        g.audit.details["state"] = subscription.state
        raise Problem(
            409,
            "subscription_not_pullable",
            "Not an active pull subscription",
            f"This subscription is {subscription.state} and delivers by {subscription.mode}.",
        )
    start = subscription.cursor if after is None else after
    g.audit.details["after"] = start
    with waiting_pulls(current_app).slot() as may_wait:
        page = _long_poll(subscription, start, limit, wait if may_wait else 0.0)
    g.audit.targets.extend(page.targets)
    g.audit.details["next_cursor"] = page.next_cursor
    response = Response(page.body(), mimetype="application/json")
    if wait > 0 and not may_wait and not page.events:
        g.audit.details["waiting_pulls_full"] = True
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _long_poll(subscription: Any, after: int, limit: int, wait: float) -> EventPage:
    deadline = time.monotonic() + wait
    actor, policy = g.actor, current_policy()
    latest = int(db.session.connection().execute(LAST_POSITION).scalar() or 0)
    if after > latest:
        raise service.cursor_beyond_end(latest, parameter="after")
    end: int | None = latest
    while True:
        generation = feed_generation()
        page = read_events(
            db.session.connection(),
            actor=actor,
            policy=policy,
            subscription=subscription,
            after=after,
            limit=limit,
            end=end,
        )
        # Only the first look may use the end read above; later ones read it again.
        end = None
        remaining = deadline - time.monotonic()
        if page.events or not page.reached_end or remaining <= 0:
            return page
        after = page.next_cursor
        wait_outside(wait_for_feed, generation, min(remaining, _RECHECK_SECONDS))


@bp.route("/<string:subscription_id>/ack", methods=["POST"])
@bp.doc(summary="Record progress through the feed", requestBody=_json_body(AckSchema))
@bp.response(200, AckSchema)
@audited("feed.ack")
def ack(subscription_id: str) -> ResponseReturnValue:
    body = load_body(AckSchema())
    g.audit.details["cursor"] = body["cursor"]
    subscription = service.acknowledge(
        actor=g.actor, subscription_id=subscription_id, cursor=body["cursor"]
    )
    return jsonify({"cursor": subscription.cursor})


@bp.route("/<string:subscription_id>/dead-letters", methods=["GET"])
@bp.response(200, description="Events push delivery gave up on")
@audited("subscription.dead_letters")
def dead_letters(subscription_id: str) -> ResponseReturnValue:
    subscription = _own(subscription_id)
    return jsonify({"dead_letters": deadletters.dead_letter_documents(subscription.id)})


@bp.route("/<string:subscription_id>/redrive", methods=["POST"])
@bp.response(200, description="How many parked events go out again")
@audited("subscription.redrive")
def redrive(subscription_id: str) -> ResponseReturnValue:
    subscription = _own(subscription_id)
    count = deadletters.redrive(subscription=subscription)
    g.audit.details["redriven"] = count
    return jsonify({"redriven": count})
