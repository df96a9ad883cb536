"""The agency side of publish/subscribe: subscriptions and following a pull feed.

A subscription names record types and filters; the exchange lines up every matching
record version in feed order. :func:`follow` reads that feed page by page, verifies every
event from public keys alone (the publisher's signature by the key valid at ``issued_at``,
and the exchange's receipt) and yields it. Delivery is at-least-once, so ``follow`` drops
event ids it has already yielded, and it moves the cursor only after a page's events were
handed over: a system that stops halfway through a page sees the rest of it again, never
a gap. With a cursor file the position survives a restart of the agency's system.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from exchange.client.sdk import ExchangeClient, VerificationError, VerifiedRecord

# The exchange holds a long poll open at most this long (DESIGN §8).
MAX_WAIT_SECONDS = 30.0
# A long poll must end, and its answer arrive, inside the client's read timeout.
_READ_MARGIN_SECONDS = 5.0
_EARLY_ANSWER_PAUSE_SECONDS = 1.0
_RECENT_EVENT_IDS = 100_000

Stop: TypeAlias = threading.Event | Callable[[], bool]


class CursorFileError(ValueError):
    """The cursor file cannot be used for this subscription."""


@dataclass(frozen=True)
class FeedEvent:
    """One verified event of a subscription's feed."""

    event_id: str
    position: int
    kind: str
    record: VerifiedRecord


class RecentEventIds:
    """The event ids seen most recently, up to ``limit``: at-least-once delivery repeats an
    event soon after its first delivery, so a bounded memory catches the repeats without
    growing for as long as a system runs."""

    def __init__(self, limit: int = _RECENT_EVENT_IDS) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, event_id: str) -> None:
        self._ids[event_id] = None
        self._ids.move_to_end(event_id)
        while len(self._ids) > self.limit:
            self._ids.popitem(last=False)


# Subscriptions ----------------------------------------------------------------------


def _path(subscription_id: str) -> str:
    return f"/api/v1/subscriptions/{subscription_id}"


def create_subscription(
    client: ExchangeClient,
    *,
    name: str,
    types: Sequence[str],
    filters: Mapping[str, Sequence[str]] | None = None,
    mode: str = "pull",
    endpoint: str | None = None,
) -> dict[str, Any]:
    """Subscribe this system's agency to ``types``, narrowed by ``filters``.

    Each filter lists accepted values; a record matches when, for every filter given, one
    of its values matches. Empty filters are left out rather than sent as "match nothing".
    """
    body: dict[str, Any] = {
        "name": name,
        "types": list(types),
        "filters": {key: list(values) for key, values in (filters or {}).items() if values},
        "mode": mode,
    }
    if endpoint is not None:
        body["endpoint"] = endpoint
    result: dict[str, Any] = client.request("POST", "/api/v1/subscriptions", json=body)
    return result


def list_subscriptions(client: ExchangeClient) -> list[dict[str, Any]]:
    return list(client.request("GET", "/api/v1/subscriptions")["subscriptions"])


def get_subscription(client: ExchangeClient, subscription_id: str) -> dict[str, Any]:
    result: dict[str, Any] = client.request("GET", _path(subscription_id))
    return result


def set_state(client: ExchangeClient, subscription_id: str, *, state: str) -> dict[str, Any]:
    """Pause or resume a subscription (``state``: ``active`` or ``paused``)."""
    result: dict[str, Any] = client.request("PATCH", _path(subscription_id), json={"state": state})
    return result


def delete_subscription(client: ExchangeClient, subscription_id: str) -> None:
    client.request("DELETE", _path(subscription_id))


def ack(client: ExchangeClient, subscription_id: str, *, cursor: int) -> int:
    """Acknowledge every event up to ``cursor``; the exchange's answer is the stored cursor."""
    result = client.request("POST", f"{_path(subscription_id)}/ack", json={"cursor": cursor})
    return int(result["cursor"])


def fetch_events(
    client: ExchangeClient,
    subscription_id: str,
    *,
    purpose: str,
    after: int | None = None,
    limit: int = 100,
    wait: float = 0.0,
) -> dict[str, Any]:
    """One page of the feed, unverified: ``{"events": [...], "next_cursor": int}``.

    Without ``after`` the exchange starts from the subscription's acknowledged cursor.
    """
    params: dict[str, Any] = {"limit": limit, "wait": f"{wait:g}"}
    if after is not None:
        params["after"] = after
    result: dict[str, Any] = client.request(
        "GET", f"{_path(subscription_id)}/events", purpose=purpose, params=params
    )
    return result


# Following --------------------------------------------------------------------------


def _expected_kind(record: Mapping[str, Any]) -> str:
    if record.get("status") == "withdrawn":
        return "withdrawn"
    return "created" if int(record["version"]) == 1 else "amended"


def verify_event(client: ExchangeClient, event: Mapping[str, Any]) -> FeedEvent:
    """Verify an event's record and receipt; VerificationError if anything does not hold."""
    event_id = str(event.get("event_id", "?"))
    try:
        verified = client.verify(event)
        position = int(event["position"])
        kind = str(event["kind"])
    except VerificationError as error:
        raise VerificationError(f"event {event_id}: {error}") from None
    except (KeyError, TypeError, ValueError):
        raise VerificationError(f"event {event_id} is malformed") from None
    # The kind is the exchange's unsigned label; the signed record decides what happened.
    if kind != _expected_kind(verified.record):
        raise VerificationError(f"event {event_id} is labelled {kind!r}, its record disagrees")
    return FeedEvent(event_id=event_id, position=position, kind=kind, record=verified)


class CursorFile:
    """Where a follower keeps its position in one subscription's feed, across restarts."""

    def __init__(self, path: str | Path, *, subscription_id: str) -> None:
        self.path = Path(path)
        self.subscription_id = subscription_id

    def load(self) -> int | None:
        try:
            state = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except ValueError:
            raise CursorFileError(f"{self.path} is not a cursor file") from None
        if not isinstance(state, dict) or not isinstance(state.get("cursor"), int):
            raise CursorFileError(f"{self.path} is not a cursor file")
        # One file per subscription: another's cursor would skip or repeat events here.
        if state.get("subscription") != self.subscription_id:
            raise CursorFileError(
                f"{self.path} holds the cursor of subscription {state.get('subscription')}"
            )
        return int(state["cursor"])

    def save(self, cursor: int) -> None:
        """Replace the file atomically: a crash leaves the old cursor or the new, whole."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = json.dumps({"subscription": self.subscription_id, "cursor": cursor})
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(document + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise


def _stopped(stop: Stop | None) -> bool:
    if stop is None:
        return False
    if isinstance(stop, threading.Event):
        return stop.is_set()
    return bool(stop())


def _pause(stop: Stop | None, seconds: float) -> None:
    if isinstance(stop, threading.Event):
        stop.wait(seconds)
    elif not _stopped(stop):
        time.sleep(seconds)


def follow(
    client: ExchangeClient,
    subscription_id: str,
    *,
    purpose: str,
    cursor_file: str | Path | None = None,
    wait: float = 20.0,
    limit: int = 100,
    stop: Stop | None = None,
) -> Iterator[FeedEvent]:
    """Yield the subscription's events in feed order, verified, each event id once.

    After the events of a page were yielded, the page's cursor is written to
    ``cursor_file`` and acknowledged to the exchange; a follower started again resumes from
    the file, or without one from the exchange's acknowledged cursor. ``stop`` (an Event,
    or a callable answering True) is looked at after every page, so a follower asked to
    stop ends once the current long poll (at most ``wait`` seconds) returns. A record that
    does not verify raises VerificationError: nothing is skipped silently.
    """
    if not 1 <= limit <= 1000:
        raise ValueError("limit must be between 1 and 1000")
    wait = max(0.0, min(wait, MAX_WAIT_SECONDS, client.timeout - _READ_MARGIN_SECONDS))
    store = CursorFile(cursor_file, subscription_id=subscription_id) if cursor_file else None
    cursor = store.load() if store is not None else None
    yielded = RecentEventIds()
    while True:
        asked_at = time.monotonic()
        page = fetch_events(
            client, subscription_id, purpose=purpose, after=cursor, limit=limit, wait=wait
        )
        if not page["events"] and wait > 0 and time.monotonic() - asked_at < wait / 2:
            # The exchange answered early with nothing (its waiting pulls were all
            # taken): ask again after a pause, not at once.
            _pause(stop, _EARLY_ANSWER_PAUSE_SECONDS)
        for event in page["events"]:
            feed_event = verify_event(client, event)
            if feed_event.event_id in yielded:
                continue
            yield feed_event
            yielded.add(feed_event.event_id)
        next_cursor = int(page["next_cursor"])
        if next_cursor != cursor:
            # The file first: if the acknowledgement is lost, a restart still resumes here.
            if store is not None:
                store.save(next_cursor)
            ack(client, subscription_id, cursor=next_cursor)
            cursor = next_cursor
        if _stopped(stop):
            return
