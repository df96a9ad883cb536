"""Unusual patterns in the trail: bulk reads, reads out of hours, repeated denials.

Counts go by clock hour (an hour in UTC is an hour in JST: Japan keeps a whole-hour offset
and no daylight saving time), computed by the database over the window's leaves through
the ``recorded_at`` index. The rules are stated on the page that shows the flags.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Connection

from exchange.clock import as_utc
from exchange.trail.access_trails import ATTEMPTS, DENIAL_ACTIONS
from exchange.trail.models import AuditEntry, AuditLeaf, AuditTarget
from exchange.ui.filters import JST

_entry = AuditEntry.__table__
_leaf = AuditLeaf.__table__
_target = AuditTarget.__table__

# What counts as reading records; feed pulls are not counted: a subscription delivers
# what the agency chose to receive, in whatever volume the publishers produce.
READ_ACTIONS = ("record.read", "record.read_versions", "record.search", "record.export")
BULK_READS = 200
REPEATED_DENIALS = 5
# Office hours in JST: reads from 22:00 to 06:00, or on Saturday or Sunday, are off hours.
OFF_HOURS_FROM = 22
OFF_HOURS_UNTIL = 6
# Denials are few unless something is wrong: past this many in a window, the newest are
# examined and the page says so.
DENIALS_EXAMINED = 50_000
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Thresholds:
    bulk_reads: int = BULK_READS
    repeated_denials: int = REPEATED_DENIALS


@dataclass(frozen=True)
class Flag:
    """One flagged actor over one stretch of time, with the trail that shows it."""

    start: datetime
    end: datetime
    count: int
    user: str | None = None
    agency: str | None = None
    system: str | None = None
    fingerprint: str | None = None
    address: str | None = None
    # Sign-ins to one account, whoever tried: the account, and the addresses they came from.
    account: str | None = None
    addresses: tuple[str, ...] = ()
    # For an address: the accounts its failed sign-ins named.
    accounts: tuple[str, ...] = ()
    versions: int = 0
    trail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Patterns:
    bulk: list[Flag]
    off_hours: list[Flag]
    denials: list[Flag]
    denials_truncated: bool


def _hour_of(connection: Connection, column: Any) -> Any:
    if connection.dialect.name == "sqlite":
        return func.strftime("%Y-%m-%d %H:00:00", column)
    return func.date_trunc("hour", func.timezone("UTC", column))


def _as_hour(value: Any) -> datetime:
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return as_utc(value)


def trail_link(start: datetime, end: datetime, **filters: str | None) -> dict[str, Any]:
    """Query parameters of the trail page for this stretch (JST, as its form takes them)."""
    link: dict[str, Any] = {name: value for name, value in filters.items() if value}
    link["since"] = start.astimezone(JST).strftime("%Y-%m-%dT%H:%M")
    link["until"] = end.astimezone(JST).strftime("%Y-%m-%dT%H:%M")
    return link


def is_off_hours(moment: datetime) -> bool:
    local = moment.astimezone(JST)
    return local.weekday() >= 5 or local.hour >= OFF_HOURS_FROM or local.hour < OFF_HOURS_UNTIL


def _off_hours_period(moment: datetime) -> date:
    # Two hours ahead, a night from 22:00 falls on the date it ends on, with the weekend
    # day it leads into: one flag per user per night or weekend day.
    return (moment.astimezone(JST) + timedelta(hours=24 - OFF_HOURS_FROM)).date()


def _hourly_reads(connection: Connection, since: datetime, until: datetime) -> list[Any]:
    hour = _hour_of(connection, _leaf.c.recorded_at).label("hour")
    rows = connection.execute(
        select(
            _leaf.c.actor_agency,
            _leaf.c.actor_system,
            _leaf.c.actor_user,
            hour,
            func.count(func.distinct(_leaf.c.leaf_index)).label("requests"),
            func.count(_target.c.record_id).label("versions"),
        )
        .select_from(_leaf.outerjoin(_target, _target.c.leaf_index == _leaf.c.leaf_index))
        .where(
            _leaf.c.recorded_at >= since,
            _leaf.c.recorded_at < until,
            _leaf.c.action.in_(READ_ACTIONS),
            _leaf.c.outcome == "ok",
        )
        .group_by(_leaf.c.actor_agency, _leaf.c.actor_system, _leaf.c.actor_user, hour)
    ).all()
    return list(rows)


def _bulk(rows: list[Any], threshold: int) -> list[Flag]:
    flags = []
    for row in rows:
        if row.versions <= threshold:
            continue
        start = _as_hour(row.hour)
        who = (
            {"user": row.actor_user, "agency": row.actor_agency}
            if row.actor_user
            else {"agency": row.actor_agency, "system": row.actor_system}
        )
        flags.append(
            Flag(
                start=start,
                end=start + HOUR,
                count=int(row.requests),
                versions=int(row.versions),
                trail=trail_link(start, start + HOUR, **who),
                **who,
            )
        )
    return sorted(flags, key=lambda flag: (-flag.versions, flag.start))


def _off_hours(rows: list[Any]) -> list[Flag]:
    periods: dict[tuple[str, str | None, date], list[Any]] = defaultdict(list)
    for row in rows:
        hour = _as_hour(row.hour)
        if row.actor_user and is_off_hours(hour):
            periods[(row.actor_user, row.actor_agency, _off_hours_period(hour))].append(row)
    flags = []
    for (user, agency, _), hours in periods.items():
        start = min(_as_hour(row.hour) for row in hours)
        end = max(_as_hour(row.hour) for row in hours) + HOUR
        flags.append(
            Flag(
                start=start,
                end=end,
                count=sum(int(row.requests) for row in hours),
                versions=sum(int(row.versions) for row in hours),
                user=user,
                agency=agency,
                trail=trail_link(start, end, user=user, agency=agency),
            )
        )
    return sorted(flags, key=lambda flag: flag.start, reverse=True)


def _address_of(row: Any) -> str:
    actor = json.loads(bytes(row.canonical)).get("actor") or {}
    return str(actor.get("address") or "")


def _denial_keys(row: Any) -> list[tuple[str, ...]]:
    """Who was denied: the identified actor, or else the address the request came from
    and, for a sign-in, the account it tried (an account attacked from many addresses
    is flagged though no one address is)."""
    if row.actor_user:
        return [("user", row.actor_user, row.actor_agency or "")]
    if row.actor_system:
        return [("system", row.actor_agency or "", row.actor_system)]
    if row.actor_fingerprint:
        return [("certificate", row.actor_fingerprint)]
    keys: list[tuple[str, ...]] = [("address", _address_of(row))]
    if row.account_user:
        keys.append(("account", row.account_user))
    return keys


def _same_attempts(flag: Flag, by_account: dict[tuple[str, datetime], Flag]) -> bool:
    """An address flag that repeats an account flag: one account tried from one address."""
    if len(flag.accounts) != 1:
        return False
    twin = by_account.get((flag.accounts[0], flag.start))
    return twin is not None and twin.count == flag.count and twin.addresses == (flag.address,)


def _denials(
    connection: Connection, since: datetime, until: datetime, threshold: int
) -> tuple[list[Flag], bool]:
    rows = connection.execute(
        select(
            _leaf.c.leaf_index,
            _leaf.c.recorded_at,
            _leaf.c.actor_agency,
            _leaf.c.actor_system,
            _leaf.c.actor_user,
            _leaf.c.actor_fingerprint,
            _leaf.c.account_user,
            _entry.c.canonical,
        )
        .select_from(_leaf.join(_entry, _entry.c.seq == _leaf.c.entry_seq))
        .where(
            _leaf.c.recorded_at >= since,
            _leaf.c.recorded_at < until,
            or_(_leaf.c.outcome == "denied", _leaf.c.action.in_(DENIAL_ACTIONS)),
        )
        .order_by(_leaf.c.leaf_index.desc())
        .limit(DENIALS_EXAMINED + 1)
    ).all()
    truncated = len(rows) > DENIALS_EXAMINED
    counts: dict[tuple[tuple[str, ...], datetime], int] = defaultdict(int)
    # Per account key, the addresses; per address key, the accounts named.
    named: dict[tuple[tuple[str, ...], datetime], set[str]] = defaultdict(set)
    for row in rows[:DENIALS_EXAMINED]:
        hour = as_utc(row.recorded_at).replace(minute=0, second=0, microsecond=0)
        for key in _denial_keys(row):
            counts[(key, hour)] += 1
            if key[0] == "account":
                named[(key, hour)].add(_address_of(row))
            elif key[0] == "address" and row.account_user:
                named[(key, hour)].add(row.account_user)
    flags = []
    for (key, start), count in counts.items():
        if count < threshold:
            continue
        kind, *values = key
        user = agency = system = fingerprint = address = account = None
        others = tuple(sorted(named.get((key, start), ())))
        if kind == "user":
            user, agency = values[0], values[1] or None
        elif kind == "system":
            agency, system = values[0] or None, values[1]
        elif kind == "certificate":
            fingerprint = values[0]
        elif kind == "account":
            account = values[0]
        else:
            address = values[0]
        flags.append(
            Flag(
                start=start,
                end=start + HOUR,
                count=count,
                user=user,
                agency=agency,
                system=system,
                fingerprint=fingerprint,
                address=address,
                account=account,
                addresses=others if kind == "account" else (),
                accounts=others if kind == "address" else (),
                trail=trail_link(
                    start,
                    start + HOUR,
                    outcome=ATTEMPTS,
                    user=user or account,
                    agency=agency,
                    system=system,
                ),
            )
        )
    by_account = {(f.account, f.start): f for f in flags if f.account is not None}
    flags = [f for f in flags if f.address is None or not _same_attempts(f, by_account)]
    return sorted(flags, key=lambda flag: (-flag.count, flag.start)), truncated


def find_patterns(
    connection: Connection, *, since: datetime, until: datetime, thresholds: Thresholds
) -> Patterns:
    reads = _hourly_reads(connection, since, until)
    denials, truncated = _denials(connection, since, until, thresholds.repeated_denials)
    return Patterns(
        bulk=_bulk(reads, thresholds.bulk_reads),
        off_hours=_off_hours(reads),
        denials=denials,
        denials_truncated=truncated,
    )
