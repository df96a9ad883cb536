"""Push delivery: batches of events, signed by the exchange, POSTed over mutual TLS.

A subscription follows the record feed (by feed position) or its agency's referral events
(by the leaf index of each step's audit entry); both go out the same way.

For each push subscription with something to send, in order: parked events an operator
redrove first, then the feed after the subscription's cursor. A batch is a compact JWS
(``exchange-delivery+jws``) by the exchange's key; a 2xx answer moves the cursor. A
failure is retried with exponential backoff and jitter; after too many attempts, or too
long, the batch's events are parked as dead letters and the subscription goes on.

Each subscription is handled by one delivery at a time: on PostgreSQL its row is locked
(``FOR UPDATE SKIP LOCKED``) for the delivery, so several workers share the work; on
SQLite one process delivers. Each attempt is audited, naming the versions it carried.
"""

from __future__ import annotations

import logging
import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import and_, exists, literal, or_, select
from sqlalchemy.engine import Connection

from exchange.agencies.models import Agency, System
from exchange.agencies.policy import policy_in
from exchange.agencies.service import system_actor
from exchange.auth.actor import Actor
from exchange.clock import rfc3339, utcnow, uuid7
from exchange.extensions import db
from exchange.feeds.deadletters import RECOVERED, finish_redrive, park, set_subscription
from exchange.feeds.events import LAST_POSITION, EventPage, read_events
from exchange.feeds.models import DeadLetter, Subscription
from exchange.ops.metrics import PUSH_ATTEMPTS, PUSH_DEAD_LETTERS, PUSH_FAILURES
from exchange.pki.models import Certificate
from exchange.pki.vault import Vault
from exchange.referrals.reading import referral_event_page, referral_events_after
from exchange.trail.entries import entry_bytes, insert_entry
from keys.jws import sign_compact

log = logging.getLogger(__name__)

DELIVERY_SIGNATURE_TYPE = "exchange-delivery+jws"
_PUSH_RECHECK_SECONDS = 1.0
DELIVERY_ACTOR = Actor(kind="exchange", system_name="push-delivery")

_subscription = Subscription.__table__
_dead = DeadLetter.__table__


@dataclass(frozen=True)
class PushSettings:
    batch: int = 100
    timeout: float = 10.0
    base_backoff: float = 1.0
    max_backoff: float = 300.0
    max_attempts: int = 8
    max_age: float = 3600.0
    # After a batch that emptied the subscription's backlog, how long new events gather
    # before the next one: a steady stream goes out in batches of many events rather than
    # one request per event, which would cost a round trip and an audit entry each.
    linger: float = 0.25

    @classmethod
    def from_config(cls, config: Any) -> PushSettings:
        return cls(
            batch=int(config["EXCHANGE_PUSH_BATCH"]),
            timeout=float(config["EXCHANGE_PUSH_TIMEOUT"]),
            base_backoff=float(config["EXCHANGE_PUSH_BASE_BACKOFF"]),
            max_backoff=float(config["EXCHANGE_PUSH_MAX_BACKOFF"]),
            max_attempts=int(config["EXCHANGE_PUSH_MAX_ATTEMPTS"]),
            max_age=float(config["EXCHANGE_PUSH_MAX_AGE"]),
            linger=float(config["EXCHANGE_PUSH_LINGER"]),
        )


def backoff(attempts: int, settings: PushSettings, rng: Callable[[], float]) -> float:
    """Exponential, capped, with full jitter between half and one and a half times."""
    delay = min(settings.max_backoff, settings.base_backoff * 2 ** max(0, attempts - 1))
    return float(delay * (0.5 + rng()))


class _ContextAdapter(HTTPAdapter):
    """requests with an SSLContext of our own: the client key is encrypted at rest."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)


def delivery_session(vault: Vault, ca_file: str | None) -> requests.Session:
    if ca_file:
        context = ssl.create_default_context(cafile=ca_file)
    else:
        context = ssl.create_default_context(cadata=vault.trust_pem)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(
        str(vault.delivery_certificate_path),
        str(vault.delivery_key_path),
        password=vault.passphrase,
    )
    session = requests.Session()
    # Endpoints are reached directly: no proxy or .netrc from the environment, which
    # requests would otherwise look up again for every delivery.
    session.trust_env = False
    session.mount("https://", _ContextAdapter(context))
    return session


def _subscriber(connection: Connection, subscription: Any, now: datetime) -> Actor | None:
    """The subscribing system as it stands now; None once it has no valid certificate."""
    row = connection.execute(
        select(
            System.id,
            System.name,
            System.roles,
            Agency.id.label("agency"),
            Agency.kind,
            Agency.parent_id,
        )
        .join(Agency, Agency.id == System.agency_id)
        .where(System.id == subscription.system_id)
    ).first()
    if row is None:
        return None
    valid = connection.execute(
        select(Certificate.fingerprint)
        .where(
            Certificate.system_id == row.id,
            Certificate.revoked_at.is_(None),
            Certificate.not_before <= now,
            Certificate.not_after > now,
        )
        .limit(1)
    ).first()
    if valid is None:
        return None
    return system_actor(
        agency_id=row.agency,
        agency_kind=row.kind,
        agency_parent=row.parent_id,
        system_id=row.id,
        system_name=row.name,
        roles=row.roles,
    )


def _due(connection: Connection, now: datetime, busy: set[str]) -> Any:
    end = connection.execute(LAST_POSITION).scalar() or 0
    redriving = exists().where(
        and_(_dead.c.subscription_id == _subscription.c.id, _dead.c.state == "redriving")
    )
    query = (
        select(_subscription, redriving.label("redriving"), literal(end).label("feed_end"))
        .where(
            _subscription.c.mode == "push",
            _subscription.c.state == "active",
            or_(_subscription.c.next_attempt_at.is_(None), _subscription.c.next_attempt_at <= now),
            or_(
                and_(_subscription.c.feed == "records", _subscription.c.cursor < end),
                and_(
                    _subscription.c.feed == "referrals",
                    referral_events_after(_subscription.c.agency_id, _subscription.c.cursor),
                ),
                redriving,
            ),
        )
        # Least recently served first (a delivered subscription's next_attempt_at is the
        # time it was served), so that none waits while others are served again and again.
        .order_by(_subscription.c.next_attempt_at.asc().nulls_first(), _subscription.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if busy:
        query = query.where(_subscription.c.id.not_in(busy))
    return connection.execute(query).first()


@dataclass
class PushWorker:
    """Delivers due push subscriptions, one batch at a time each."""

    vault: Vault
    settings: PushSettings
    ca_file: str | None = None
    rng: Callable[[], float] = random.random
    # Where a rotated delivery certificate or receipt key comes from (load_vault).
    reload: Callable[[], Vault] | None = None

    def __post_init__(self) -> None:
        self._busy: set[str] = set()
        # Subscription id -> monotonic time until which it gathers events (settings.linger).
        self._lingering: dict[str, float] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        self._push_known_at = float("-inf")
        self._has_push = False

    def _any_push(self, connection: Connection) -> bool:
        """Whether any push subscription is active, asked at most once a second.

        Delivery threads wake on every new feed position; without subscriptions they
        should not take the database from the requests each time.
        """
        now = time.monotonic()
        if now - self._push_known_at >= _PUSH_RECHECK_SECONDS:
            self._has_push = (
                connection.execute(
                    select(_subscription.c.id)
                    .where(_subscription.c.mode == "push", _subscription.c.state == "active")
                    .limit(1)
                ).first()
                is not None
            )
            self._push_known_at = now
        return self._has_push

    def _current_vault(self) -> Vault:
        if self.reload is not None:
            self.vault = self.reload()
        return self.vault

    def _session(self) -> requests.Session:
        vault = self._current_vault()
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is not None and getattr(self._local, "vault", None) is not vault:
            # A rotated delivery certificate: new connections present it.
            session.close()
            session = None
        if session is None:
            session = delivery_session(vault, self.ca_file)
            self._local.session = session
            self._local.vault = vault
        return session

    def deliver_one(self) -> bool:
        """Deliver one batch of one due subscription; False when none was due.

        Everything runs on the worker's own session, so that the policy and the
        subscriber's standing are read in the same transaction as the events. On
        PostgreSQL that transaction holds the subscription's row lock through the POST;
        on SQLite, where one process delivers and a process has one connection, the
        connection is let go during the POST and the outcome written afterwards.
        """
        now = utcnow()
        session = db.session
        if not self._any_push(session.connection()):
            session.rollback()
            return False
        with self._lock:
            moment = time.monotonic()
            for waited in [i for i, until in self._lingering.items() if until <= moment]:
                del self._lingering[waited]
            row = _due(session.connection(), now, self._busy | self._lingering.keys())
            if row is None:
                session.rollback()
                return False
            self._busy.add(row.id)
        caught_up = False
        try:
            caught_up = self._deliver(session.connection(), row, now)
            session.commit()
        except Exception:
            session.rollback()
            raise
        finally:
            with self._lock:
                self._busy.discard(row.id)
                if caught_up and self.settings.linger > 0:
                    self._lingering[row.id] = time.monotonic() + self.settings.linger
        return True

    def _deliver(self, connection: Connection, subscription: Any, now: datetime) -> bool:
        """One batch; True when it reached the end of the feed (nothing else is waiting)."""
        actor = _subscriber(connection, subscription, now)
        if actor is None:
            # Revoked or expired: nothing goes out, and nobody retries soon.
            set_subscription(
                connection,
                subscription.id,
                next_attempt_at=now + timedelta(minutes=5),
                last_error="the subscribing system has no valid certificate",
            )
            return False
        parked = (
            [
                int(p)
                for (p,) in connection.execute(
                    select(_dead.c.position)
                    .where(_dead.c.subscription_id == subscription.id, _dead.c.state == "redriving")
                    .order_by(_dead.c.position)
                    .limit(self.settings.batch)
                )
            ]
            if subscription.redriving
            else []
        )
        page, about = self._read(connection, subscription, actor, parked)
        if not page.events:
            if parked:
                finish_redrive(connection, subscription.id, parked, now, delivered=False)
            else:
                set_subscription(
                    connection, subscription.id, cursor=max(subscription.cursor, page.next_cursor)
                )
            return False
        if connection.dialect.name == "sqlite":
            db.session.rollback()
        delivery_id = uuid7()
        status, error = self._post(subscription, page, delivery_id, now)
        connection = db.session.connection()
        details: dict[str, Any] = {
            "subscription": subscription.id,
            "recipient": subscription.agency_id,
            "delivery": delivery_id,
            "endpoint": subscription.endpoint,
            "events": len(page.events),
            **about,
        }
        self._record(connection, subscription, page, parked, details, status, error, now)
        return error is None and not parked and page.reached_end

    def _read(
        self, connection: Connection, subscription: Any, actor: Actor, parked: list[int]
    ) -> tuple[EventPage, dict[str, Any]]:
        """The next batch of the feed the subscription follows, and what the audit entry
        says of it beyond the record versions it names."""
        if subscription.feed == "referrals":
            # The agency is a party to every referral on its feed: no policy to apply.
            referrals = referral_event_page(
                connection,
                subscription.agency_id,
                after=-1 if parked else subscription.cursor,
                limit=self.settings.batch,
                positions=parked or None,
            )
            page = EventPage(
                events=referrals.events,
                positions=referrals.positions,
                next_cursor=referrals.next_cursor,
                reached_end=referrals.reached_end,
            )
            return page, {
                "feed": "referrals",
                "referrals": list(dict.fromkeys(referrals.referrals)),
            }
        page = read_events(
            connection,
            actor=actor,
            policy=policy_in(connection),
            subscription=subscription,
            after=subscription.cursor,
            limit=self.settings.batch,
            positions=parked or None,
            end=subscription.feed_end,
        )
        return page, {}

    def _record(
        self,
        connection: Connection,
        subscription: Any,
        page: EventPage,
        parked: list[int],
        details: dict[str, Any],
        status: int | None,
        error: str | None,
        now: datetime,
    ) -> None:
        """The attempt's outcome and its audit entry, in one transaction."""
        PUSH_ATTEMPTS.labels(subscription.agency_id).inc()
        if error is None:
            if parked:
                finish_redrive(connection, subscription.id, parked, now, delivered=True)
                details["redriven"] = True
                set_subscription(connection, subscription.id, **RECOVERED)
            else:
                set_subscription(
                    connection,
                    subscription.id,
                    cursor=page.next_cursor,
                    **dict(RECOVERED, next_attempt_at=now),
                )
            _audit(connection, "feed.push", 200, page, details, now, http_status=status)
            return
        PUSH_FAILURES.labels(subscription.agency_id).inc()
        attempts = subscription.attempts + 1
        failing_since = subscription.failing_since or now
        details.update({"error": error, "attempt": attempts})
        too_long = (now - failing_since).total_seconds() >= self.settings.max_age
        if attempts >= self.settings.max_attempts or too_long:
            park(connection, subscription, page, parked, error, attempts, now)
            if not parked:
                PUSH_DEAD_LETTERS.labels(subscription.agency_id).inc(len(page.positions))
            _audit(connection, "feed.push.parked", 502, page, details, now, http_status=status)
            return
        delay = backoff(attempts, self.settings, self.rng)
        set_subscription(
            connection,
            subscription.id,
            attempts=attempts,
            failing_since=failing_since,
            next_attempt_at=now + timedelta(seconds=delay),
            last_error=error[:500],
        )
        _audit(connection, "feed.push", 502, page, details, now, http_status=status)

    def _post(
        self, subscription: Any, page: EventPage, delivery_id: str, now: datetime
    ) -> tuple[int | None, str | None]:
        payload = orjson.dumps(
            {
                "subscription": subscription.id,
                "delivery": delivery_id,
                "sent_at": rfc3339(now),
                "events": [orjson.Fragment(e) for e in page.events],
            }
        )
        key, kid = self._current_vault().receipt_signer()
        token = sign_compact(payload, key=key, kid=kid, typ=DELIVERY_SIGNATURE_TYPE)
        try:
            response = self._session().post(
                subscription.endpoint,
                data=token.encode("ascii"),
                headers={"Content-Type": "application/jose"},
                timeout=self.settings.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500]
        if 200 <= response.status_code < 300:
            return response.status_code, None
        return response.status_code, f"HTTP {response.status_code}"


def _audit(
    connection: Connection,
    action: str,
    status: int,
    page: EventPage,
    details: dict[str, Any],
    now: datetime,
    *,
    http_status: int | None,
) -> None:
    """The delivery's entry, in the transaction that moves the cursor."""
    entry_id = uuid7()
    canonical = entry_bytes(
        entry_id=entry_id,
        recorded_at=now,
        actor=DELIVERY_ACTOR,
        action=action,
        status=status,
        targets=page.targets,
        details=dict(details, http_status=http_status),
    )
    insert_entry(connection, entry_id=entry_id, canonical=canonical)
