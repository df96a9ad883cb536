"""Subscriptions: create, list, change, delete; filters; who may receive what, now.

A subscription belongs to its agency: any system of the agency may manage it (and, in the
web UI, its liaison officers). What it delivers is decided at delivery time, never at
creation: the sharing policy, each version's ``handling.audience`` and the subscriber's
standing are checked for every event as it goes out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import marshmallow as ma
from sqlalchemy import func, select

from exchange.agencies.policy import Policy
from exchange.auth.actor import Actor
from exchange.clock import rfc3339, utcnow, uuid7
from exchange.errors import Kind, Refusal
from exchange.extensions import db
from exchange.feeds.models import DeadLetter, FeedPosition, Subscription
from exchange.records.tags import allegations, programmes
from exchange.referrals.reading import last_leaf_index
from schemas import RECORD_TYPES, search_fields
from schemas.fields import Text

MODES = ("pull", "push")
# What a subscription follows: the record feed, or its own agency's referral events
# (pushed only: they are pulled from /api/v1/referrals/events).
FEEDS = ("records", "referrals")
STATES = ("active", "paused")
FILTERS = (
    "publisher",
    "publisher_kind",
    "country",
    "prefecture",
    "category",
    "allegation",
    "programme",
    "status",
)


@dataclass(frozen=True)
class Candidate:
    """A feed event as delivery sees it, before the subscriber's checks."""

    position: int
    record_id: str
    record_type: str
    publisher: str
    publisher_kind: str
    envelope: Mapping[str, Any]


def _invalid(pointer: str, detail: str) -> Refusal:
    return Refusal(
        Kind.INVALID,
        "schema_invalid",
        "Invalid subscription",
        errors=[{"pointer": pointer, "detail": detail}],
    )


def cursor_beyond_end(
    latest: int, *, pointer: str | None = None, parameter: str | None = None
) -> Refusal:
    """A cursor past the feed's last position: refused wherever one is given.

    Taken, it would let a follower trust a ``next_cursor`` that skips every event
    published up to that number.
    """
    where = {"pointer": pointer} if pointer is not None else {"parameter": parameter}
    return Refusal(
        Kind.INVALID,
        "schema_invalid",
        "Cursor beyond the end of the feed",
        errors=[{**where, "detail": f"Beyond the end of the feed ({latest})."}],
    )


def _is_filter_value(value: str) -> bool:
    try:
        filter_value_field().deserialize(value)
    except ma.ValidationError:
        return False
    return True


def check_filters(filters: Mapping[str, Any]) -> dict[str, list[str]]:
    checked: dict[str, list[str]] = {}
    for name, values in filters.items():
        if name not in FILTERS:
            raise _invalid(f"/filters/{name}", f"Unknown filter; one of: {', '.join(FILTERS)}.")
        if (
            not isinstance(values, list)
            or not 1 <= len(values) <= 50
            or not all(isinstance(v, str) and _is_filter_value(v) for v in values)
        ):
            raise _invalid(f"/filters/{name}", "A list of 1 to 50 strings of up to 64 characters.")
        checked[name] = list(dict.fromkeys(values))
    return checked


def subscription_name_field(**kwargs: Any) -> Text:
    """The one rule for a subscription's name, used by the API schema and the service.

    The same as for a name in a record: no control characters (PostgreSQL cannot store
    NUL; SQLite would), no line breaks or bidirectional overrides, no surrounding spaces.
    """
    return Text("What the subscribing agency calls the subscription.", max_length=100, **kwargs)


def filter_value_field() -> Text:
    return Text("An accepted value of the filter.", max_length=64)


# What endpoint_error accepts, narrowed to host names, for the OpenAPI document.
_PORT = "[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]"
ENDPOINT_PATTERN = f"^https://[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*(:({_PORT}))?(/[!-~]*)?$"

_ENDPOINT = re.compile(ENDPOINT_PATTERN)


def endpoint_error(endpoint: str) -> str | None:
    """Why ``endpoint`` cannot receive push deliveries, or None when it can."""
    parts = urlsplit(endpoint)
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        return "An https URL with a host and no credentials."
    try:
        # Raises for a port outside 0-65535 or not a number; 0 is no port to connect to.
        port = parts.port
    except ValueError:
        return "The port is not a number from 1 to 65535."
    if port == 0:
        return "The port is not a number from 1 to 65535."
    if any(ord(c) < 0x21 or 0x7F <= ord(c) <= 0x9F for c in endpoint):
        return "Contains spaces or control characters."
    if _ENDPOINT.fullmatch(endpoint) is None:
        return "A host name or IPv4 address, an optional port and path, in ASCII."
    return None


def validate_endpoint(endpoint: str) -> None:
    """marshmallow validator form of ``endpoint_error``."""
    error = endpoint_error(endpoint)
    if error is not None:
        raise ma.ValidationError(error)


def check_name(name: str) -> str:
    try:
        return str(subscription_name_field().deserialize(name))
    except ma.ValidationError as error:
        raise _invalid("/name", " ".join(map(str, error.messages))) from None


def check_endpoint(mode: str, endpoint: str | None) -> str | None:
    if mode == "pull":
        if endpoint is not None:
            raise _invalid("/endpoint", "Only push subscriptions have an endpoint.")
        return None
    if not endpoint:
        raise _invalid("/endpoint", "A push subscription needs an https endpoint.")
    error = endpoint_error(endpoint)
    if error is not None:
        raise _invalid("/endpoint", error)
    return endpoint


def create_subscription(
    *,
    actor: Actor,
    policy: Policy,
    name: str,
    types: Sequence[str],
    filters: Mapping[str, Any],
    mode: str,
    endpoint: str | None,
    feed: str = "records",
) -> Subscription:
    if feed == "referrals":
        return _follow_referrals(
            actor=actor, name=name, types=types, filters=filters, mode=mode, endpoint=endpoint
        )
    if feed != "records":
        raise _invalid("/feed", f"One of: {', '.join(FEEDS)}.")
    unknown = [t for t in types if t not in RECORD_TYPES]
    if unknown or not types:
        raise _invalid("/types", f"One or more of: {', '.join(RECORD_TYPES)}.")
    refused = [t for t in types if not policy.may_read(actor.agency_kind, t)]
    if refused:
        raise Refusal(
            Kind.FORBIDDEN,
            "policy_denied",
            "Not allowed by the sharing policy",
            f"Agencies of kind {actor.agency_kind!r} may not subscribe to {', '.join(refused)}.",
        )
    now = utcnow()
    subscription = Subscription(
        id=uuid7(),
        agency_id=actor.agency_id,
        system_id=actor.system_id,
        name=check_name(name),
        types=" ".join(dict.fromkeys(types)),
        filters=json.dumps(check_filters(filters), sort_keys=True),
        mode=mode,
        endpoint=check_endpoint(mode, endpoint),
        state="active",
        cursor=_latest_position(),
        created_at=now,
        updated_at=now,
        attempts=0,
    )
    db.session.add(subscription)
    db.session.flush()
    return subscription


def _follow_referrals(
    *,
    actor: Actor,
    name: str,
    types: Sequence[str],
    filters: Mapping[str, Any],
    mode: str,
    endpoint: str | None,
) -> Subscription:
    """A push subscription to every step of the referrals the agency sends or receives.

    The agency is a party to each of them, so neither record types nor filters apply.
    """
    if types:
        raise _invalid("/types", "Referral events have no record types: give none.")
    if filters:
        raise _invalid("/filters", "Referral events are not filtered: give none.")
    if mode != "push":
        raise _invalid(
            "/mode", "Referral events are pushed; they are pulled from /api/v1/referrals/events."
        )
    now = utcnow()
    subscription = Subscription(
        id=uuid7(),
        agency_id=actor.agency_id,
        system_id=actor.system_id,
        name=check_name(name),
        feed="referrals",
        types="",
        filters="{}",
        mode=mode,
        endpoint=check_endpoint(mode, endpoint),
        state="active",
        cursor=_latest_position("referrals"),
        created_at=now,
        updated_at=now,
        attempts=0,
    )
    db.session.add(subscription)
    db.session.flush()
    return subscription


def _latest_position(feed: str = "records") -> int:
    """A new subscription starts from now: what was published before is for search, and
    a referral's earlier steps are on its page and in the referral feed."""
    if feed == "referrals":
        return last_leaf_index(db.session.connection())
    latest = db.session.scalar(select(func.max(FeedPosition.position)))
    return int(latest or 0)


def get_subscription(*, actor: Actor, subscription_id: str) -> Subscription:
    """The agency's own subscription; another agency's is as absent as a missing one."""
    subscription = db.session.get(Subscription, subscription_id[:36])
    if (
        subscription is None
        or subscription.state == "deleted"
        or (actor.kind != "operator" and subscription.agency_id != actor.agency_id)
    ):
        raise Refusal(
            Kind.NOT_FOUND,
            "subscription_not_found",
            "No such subscription",
            "No subscription of yours.",
        )
    return subscription


def list_subscriptions(*, actor: Actor) -> list[Subscription]:
    query = select(Subscription).where(Subscription.state != "deleted")
    if actor.kind != "operator":
        query = query.where(Subscription.agency_id == actor.agency_id)
    return list(db.session.scalars(query.order_by(Subscription.created_at)))


def set_state(*, actor: Actor, subscription_id: str, state: str) -> Subscription:
    subscription = get_subscription(actor=actor, subscription_id=subscription_id)
    if state not in STATES:
        raise _invalid("/state", f"One of: {', '.join(STATES)}.")
    subscription.state = state
    subscription.updated_at = utcnow()
    if state == "active":
        # A resumed push subscription is tried again at once.
        subscription.next_attempt_at = None
    return subscription


def delete_subscription(*, actor: Actor, subscription_id: str) -> Subscription:
    subscription = get_subscription(actor=actor, subscription_id=subscription_id)
    subscription.state = "deleted"
    subscription.updated_at = utcnow()
    return subscription


def acknowledge(*, actor: Actor, subscription_id: str, cursor: int) -> Subscription:
    """Record progress; the cursor only moves forward, and not past the feed's end."""
    subscription = get_subscription(actor=actor, subscription_id=subscription_id)
    latest = _latest_position(subscription.feed)
    if cursor > latest:
        raise cursor_beyond_end(latest, pointer="/cursor")
    if cursor > subscription.cursor:
        subscription.cursor = cursor
        subscription.updated_at = utcnow()
    return subscription


def dead_letter_count(subscription_id: str) -> int:
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(DeadLetter)
            .where(DeadLetter.subscription_id == subscription_id, DeadLetter.state != "delivered")
        )
        or 0
    )


def subscription_document(subscription: Subscription) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "agency": subscription.agency_id,
        "system": subscription.system_id,
        "name": subscription.name,
        "feed": subscription.feed,
        "types": subscription.types.split(),
        "filters": json.loads(subscription.filters),
        "mode": subscription.mode,
        "endpoint": subscription.endpoint,
        "state": subscription.state,
        "cursor": subscription.cursor,
        "created_at": rfc3339(subscription.created_at),
        "dead_letters": dead_letter_count(subscription.id),
        "failing_since": rfc3339(subscription.failing_since)
        if subscription.failing_since
        else None,
        "last_error": subscription.last_error,
    }


def _facts(candidate: Candidate) -> dict[str, set[str]]:
    envelope = candidate.envelope
    fields = search_fields(envelope)
    payload = envelope.get("payload") or {}
    return {
        "publisher": {candidate.publisher},
        "publisher_kind": {candidate.publisher_kind},
        "country": set(fields.countries),
        "prefecture": {fields.prefecture} if fields.prefecture else set(),
        "category": {fields.category} if fields.category else set(),
        "allegation": allegations(payload),
        "programme": programmes(payload),
        "status": {str(envelope.get("status"))},
    }


def matches(filters: Mapping[str, Sequence[str]], candidate: Candidate) -> bool:
    """Every given filter must accept one of the record's values."""
    if not filters:
        return True
    facts = _facts(candidate)
    return all(facts[name] & set(values) for name, values in filters.items())


def may_receive(actor: Actor, policy: Policy, candidate: Candidate) -> bool:
    """The sharing policy and this version's audience, as they stand now (DESIGN §5)."""
    if candidate.publisher == actor.agency_id:
        return True
    if not policy.may_read(actor.agency_kind, candidate.record_type):
        return False
    audience = (candidate.envelope.get("handling") or {}).get("audience")
    return audience is None or any(a in audience for a in actor.agency_lineage)
