"""Gauges read from the database and the instance's keys at each scrape, with bounded queries.

The database is one for every process, so only the servers' operations listener reads
it; every query is an index lookup or is limited to a fixed number of rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.hashes import SHA256
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from exchange.agencies.models import Agency, System
from exchange.clock import as_utc
from exchange.feeds.events import LAST_POSITION
from exchange.feeds.models import DeadLetter, Subscription
from exchange.pki.models import Certificate, SigningKey
from exchange.pki.overview import EXPIRY_WARNING
from exchange.pki.receipt_keys import receipt_key_statuses
from exchange.pki.vault import OWN_CERTIFICATES
from exchange.trail.models import AuditCheckpoint, AuditCosignature, AuditEntry, AuditLeaf

# Entries waiting for a leaf are counted up to this many: past it the integrator is
# plainly not keeping up, and counting further would make each scrape slower.
WAITING_COUNT_CAP = 1_000_000
# Series per family read from tables that grow with the agencies' use.
MAX_SERIES = 1000
# Expired client certificates stay on the dashboard this long, then drop off.
EXPIRED_SHOWN_FOR = timedelta(days=30)

_entry = AuditEntry.__table__
_leaf = AuditLeaf.__table__
_checkpoint = AuditCheckpoint.__table__
_cosignature = AuditCosignature.__table__
_subscription = Subscription.__table__
_dead = DeadLetter.__table__
_certificate = Certificate.__table__
_key = SigningKey.__table__
_agency = Agency.__table__
_system = System.__table__

_DAY = 86_400.0


@dataclass(frozen=True)
class LogProgress:
    """How far the integrator and the checkpoints are behind the committed entries."""

    waiting: int
    tree_size: int
    checkpoint_size: int
    checkpoint_age: float | None

    @property
    def checkpoint_behind(self) -> bool:
        """Leaves or entries exist that the newest checkpoint does not cover yet."""
        return self.waiting > 0 or self.tree_size > self.checkpoint_size


def log_progress(connection: Connection, now: datetime) -> LogProgress:
    high = connection.execute(select(func.max(_leaf.c.entry_seq))).scalar() or 0
    waiting = select(_entry.c.seq).where(_entry.c.seq > high).limit(WAITING_COUNT_CAP).subquery()
    count = connection.execute(select(func.count()).select_from(waiting)).scalar() or 0
    last_leaf = connection.execute(select(func.max(_leaf.c.leaf_index))).scalar()
    newest = connection.execute(
        select(_checkpoint.c.size, _checkpoint.c.created_at)
        .order_by(_checkpoint.c.size.desc())
        .limit(1)
    ).first()
    return LogProgress(
        waiting=int(count),
        tree_size=0 if last_leaf is None else int(last_leaf) + 1,
        checkpoint_size=0 if newest is None else int(newest.size),
        checkpoint_age=(
            None if newest is None else max(0.0, (now - as_utc(newest.created_at)).total_seconds())
        ),
    )


def _log_families(progress: LogProgress) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "exchange_audit_entries_waiting",
        f"Committed audit entries without a leaf yet (counted up to {WAITING_COUNT_CAP}).",
        value=progress.waiting,
    )
    yield GaugeMetricFamily(
        "exchange_audit_tree_size", "Leaves in the audit log's tree.", value=progress.tree_size
    )
    yield GaugeMetricFamily(
        "exchange_audit_checkpoint_size",
        "Tree size of the newest signed checkpoint.",
        value=progress.checkpoint_size,
    )
    age = GaugeMetricFamily(
        "exchange_audit_checkpoint_age_seconds",
        "Seconds since the newest checkpoint was signed (no sample before the first).",
    )
    if progress.checkpoint_age is not None:
        age.add_metric([], progress.checkpoint_age)
    yield age


def _witness_families(connection: Connection) -> Iterator[Metric]:
    # A witness is an agency cosigning under its own id; one indexed lookup per agency.
    newest = (
        select(_cosignature.c.checkpoint_size)
        .where(_cosignature.c.witness == _agency.c.id)
        .order_by(_cosignature.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    family = GaugeMetricFamily(
        "exchange_witness_cosigned_size",
        "Tree size of the newest checkpoint each witness cosigned.",
        labels=["witness"],
    )
    rows = connection.execute(
        select(_agency.c.id, newest.label("size")).order_by(_agency.c.id).limit(MAX_SERIES)
    )
    for agency_id, size in rows:
        if size is not None:
            family.add_metric([agency_id], int(size))
    yield family


def _feed_families(connection: Connection) -> Iterator[Metric]:
    end = int(connection.execute(LAST_POSITION).scalar() or 0)
    yield GaugeMetricFamily("exchange_feed_end_position", "The feed's last position.", value=end)
    lag = GaugeMetricFamily(
        "exchange_subscription_lag_positions",
        "Feed positions a subscription is behind the feed's end.",
        labels=["subscription", "agency", "mode", "state"],
    )
    for row in connection.execute(
        select(
            _subscription.c.id,
            _subscription.c.agency_id,
            _subscription.c.mode,
            _subscription.c.state,
            _subscription.c.cursor,
        )
        # A referral subscription's cursor is an audit leaf index, not a feed position.
        .where(_subscription.c.feed == "records")
        .order_by(_subscription.c.id)
        .limit(MAX_SERIES)
    ):
        lag.add_metric([row.id, row.agency_id, row.mode, row.state], max(0, end - row.cursor))
    yield lag
    parked = GaugeMetricFamily(
        "exchange_push_dead_letters_parked",
        "Events parked as dead letters, waiting for an operator to redrive them.",
        labels=["subscription"],
    )
    for subscription_id, count in connection.execute(
        select(_dead.c.subscription_id, func.count())
        .where(_dead.c.state == "parked")
        .group_by(_dead.c.subscription_id)
        .order_by(_dead.c.subscription_id)
        .limit(MAX_SERIES)
    ):
        parked.add_metric([subscription_id], int(count))
    yield parked


def _days(moment: datetime, now: datetime) -> float:
    return (as_utc(moment) - now).total_seconds() / _DAY


def _expiry_families(connection: Connection, now: datetime, keys: Path) -> Iterator[Metric]:
    certificates = GaugeMetricFamily(
        "exchange_certificate_expiry_days",
        "Days until a certificate expires (negative once expired): the exchange's CA, "
        "server and delivery certificates and systems' unrevoked client certificates.",
        labels=["certificate", "agency", "system", "fingerprint"],
    )
    days_left: list[float] = []
    for name, file in OWN_CERTIFICATES:
        path = keys / file
        if path.exists():
            # The first certificate of the file; server.pem carries the CA after it.
            certificate = x509.load_pem_x509_certificate(path.read_bytes())
            days_left.append(_days(certificate.not_valid_after_utc, now))
            certificates.add_metric(
                [name, "", "", certificate.fingerprint(SHA256()).hex()], days_left[-1]
            )
    for row in connection.execute(
        select(
            _certificate.c.fingerprint,
            _certificate.c.not_after,
            _system.c.agency_id,
            _system.c.name,
        )
        .join(_system, _system.c.id == _certificate.c.system_id)
        .where(
            _certificate.c.revoked_at.is_(None),
            _certificate.c.not_after > now - EXPIRED_SHOWN_FOR,
        )
        .order_by(_certificate.c.not_after)
        .limit(MAX_SERIES)
    ):
        days_left.append(_days(row.not_after, now))
        certificates.add_metric(["client", row.agency_id, row.name, row.fingerprint], days_left[-1])
    yield certificates
    yield GaugeMetricFamily(
        "exchange_certificates_expiring",
        f"Certificates of the above within {EXPIRY_WARNING.days} days of their end, "
        "not yet past it: renew or rotate them now.",
        value=sum(1 for days in days_left if 0 < days <= EXPIRY_WARNING.days),
    )
    receipt_keys = GaugeMetricFamily(
        "exchange_receipt_keys",
        "The exchange's receipt keys by status: next (published, not signing yet), active, "
        "retired (published for the receipts they signed).",
        labels=["status"],
    )
    for status, count in sorted(receipt_key_statuses(keys, now).items()):
        receipt_keys.add_metric([status], count)
    yield receipt_keys
    keys_family = GaugeMetricFamily(
        "exchange_signing_key_expiry_days",
        "Days until an agency's active signing key reaches its not-after date.",
        labels=["agency", "kid"],
    )
    for row in connection.execute(
        select(_key.c.agency_id, _key.c.kid, _key.c.not_after)
        .where(_key.c.status == "active", _key.c.not_after.is_not(None))
        .order_by(_key.c.not_after)
        .limit(MAX_SERIES)
    ):
        keys_family.add_metric([row.agency_id, row.kid], _days(row.not_after, now))
    yield keys_family


def database_up(answers: bool) -> Metric:
    return GaugeMetricFamily(
        "exchange_database_up", "Whether the database answered this scrape.", value=int(answers)
    )


def database_families(connection: Connection, now: datetime, *, keys: Path) -> list[Metric]:
    """Every gauge read from the database (and the keys folder), as of ``now``."""
    families: list[Metric] = [
        GaugeMetricFamily("exchange_database_up", "The database answers.", value=1)
    ]
    families += _log_families(log_progress(connection, now))
    families += _witness_families(connection)
    families += _feed_families(connection)
    families += _expiry_families(connection, now, keys)
    return families
