"""Reading records: by id, by version, and by search, always through the policy."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Integer, and_, bindparam, exists, func, or_, select

from exchange.agencies.policy import Policy, current_policy
from exchange.auth.actor import Actor
from exchange.clock import rfc3339
from exchange.extensions import db
from exchange.pki.models import SigningKey
from exchange.problems import Problem
from exchange.records.models import Record, RecordAudience, RecordCard, RecordVersion
from exchange.records.normalize import fold
from exchange.records.signing import compromise_flag

_audience_table = RecordAudience.__table__


def readable(actor: Actor, policy: Policy, record: Any, audience: list[str]) -> bool:
    if record.publisher == actor.agency_id:
        return True
    if not policy.may_read(actor.agency_kind, record.type):
        return False
    return not record.audience_restricted or any(a in audience for a in actor.agency_lineage)


def _deny(record_type: str) -> Problem:
    return Problem(
        403,
        "policy_denied",
        "Not allowed by the sharing policy",
        f"Your agency may not read this {record_type} record.",
    )


def _load_readable(actor: Actor, record_id: str) -> Record:
    record: Record | None = db.session.scalar(select(Record).where(Record.id == record_id))
    if record is None:
        raise Problem(404, "record_not_found", "No such record", f"No record {record_id!r}.")
    audience = (
        list(
            db.session.scalars(
                select(RecordAudience.agency_id).where(RecordAudience.record_pk == record.pk)
            )
        )
        if record.audience_restricted
        else []
    )
    if not readable(actor, current_policy(), record, audience):
        raise _deny(record.type)
    return record


@dataclass(frozen=True)
class VersionView:
    """A stored version and the state of its key (ORM objects or rows with those names)."""

    record_id: str
    version: Any
    key: Any

    def document(self) -> dict[str, Any]:
        v = self.version
        return {
            "record": json.loads(v.canonical),
            "signature": v.signature,
            "receipt": v.receipt,
            "received_at": rfc3339(v.received_at),
            "key": {"kid": self.key.kid, "agency": self.key.agency_id, "status": self.key.status},
            "flags": {
                "key_compromised": compromise_flag(
                    self.key, issued_at=v.issued_at, received_at=v.received_at
                ),
            },
        }


def _versions(record: Record, version: int | None = None) -> list[VersionView]:
    query = (
        select(RecordVersion, SigningKey)
        .join(SigningKey, SigningKey.kid == RecordVersion.kid)
        .where(RecordVersion.record_pk == record.pk)
        .order_by(RecordVersion.version)
    )
    if version is not None:
        query = query.where(RecordVersion.version == version)
    return [VersionView(record.id, v, k) for v, k in db.session.execute(query)]


_record, _version, _key = Record.__table__, RecordVersion.__table__, SigningKey.__table__
# Reading by id is the hot path: record, version and key in one prebuilt statement.
_READ_VERSION = (
    select(
        _record.c.pk,
        _record.c.publisher,
        _record.c.type,
        _record.c.audience_restricted,
        _version.c.version,
        _version.c.canonical,
        _version.c.signature,
        _version.c.receipt,
        _version.c.received_at,
        _version.c.issued_at,
        _key.c.kid,
        _key.c.agency_id,
        _key.c.status,
        _key.c.compromised_at,
    )
    .select_from(
        _record.join(_version, _version.c.record_pk == _record.c.pk).join(
            _key, _key.c.kid == _version.c.kid
        )
    )
    .where(
        _record.c.id == bindparam("id"),
        _version.c.version == func.coalesce(bindparam("version", type_=Integer), _record.c.version),
    )
)
_AUDIENCE = select(_audience_table.c.agency_id).where(
    _audience_table.c.record_pk == bindparam("record_pk")
)


def read_record(*, actor: Actor, record_id: str, version: int | None = None) -> VersionView:
    connection = db.session.connection()
    row = connection.execute(_READ_VERSION, {"id": record_id, "version": version}).first()
    if row is not None:
        audience = (
            list(connection.execute(_AUDIENCE, {"record_pk": row.pk}).scalars())
            if row.audience_restricted
            else []
        )
        if not readable(actor, current_policy(), row, audience):
            raise _deny(row.type)
        return VersionView(record_id, row, row)
    # Either no such record, or no such version of one: the policy speaks first.
    record = _load_readable(actor, record_id)
    views = _versions(record, version if version is not None else record.version)
    if not views:
        raise Problem(
            404, "version_not_found", "No such version", f"Record has {record.version} version(s)."
        )
    return views[0]


def read_versions(*, actor: Actor, record_id: str) -> list[VersionView]:
    return _versions(_load_readable(actor, record_id))


@dataclass(frozen=True)
class SearchQuery:
    type: str | None = None
    publisher: str | None = None
    country: str | None = None
    prefecture: str | None = None
    category: str | None = None
    status: str | None = None
    issued_from: date | None = None
    issued_to: date | None = None
    q: str | None = None
    card: str | None = None
    cursor: str | None = None
    limit: int = 50


@dataclass(frozen=True)
class SearchPage:
    items: list[VersionView]
    next_cursor: str | None


# Row keys fit a signed 64-bit integer on every database the exchange runs on.
_MAX_PK = 2**63 - 1


def encode_cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"before": pk}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))["before"]
        if type(value) is not int or not 1 <= value <= _MAX_PK:
            raise ValueError(cursor)
        return value
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise Problem(
            400,
            "cursor_invalid",
            "Invalid cursor",
            errors=[{"parameter": "cursor", "detail": "Not a cursor this exchange issued."}],
        ) from None


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_records(*, actor: Actor, query: SearchQuery) -> SearchPage:
    policy = current_policy()
    readable_types = policy.readable_types(actor.agency_kind)
    conditions: list[Any] = [
        or_(Record.type.in_(readable_types), Record.publisher == actor.agency_id),
        or_(
            Record.audience_restricted.is_(False),
            Record.publisher == actor.agency_id,
            exists().where(
                and_(
                    RecordAudience.record_pk == Record.pk,
                    RecordAudience.agency_id.in_(actor.agency_lineage),
                )
            ),
        ),
    ]
    if query.type:
        conditions.append(Record.type == query.type)
    if query.publisher:
        conditions.append(Record.publisher == query.publisher)
    if query.country:
        conditions.append(Record.countries.like(f"%,{query.country},%"))
    if query.prefecture:
        conditions.append(Record.prefecture == query.prefecture)
    if query.category:
        conditions.append(Record.category == query.category)
    if query.status:
        conditions.append(Record.status == query.status)
    if query.issued_from:
        conditions.append(Record.issued_at >= datetime.combine(query.issued_from, time(), UTC))
    if query.issued_to:
        conditions.append(
            Record.issued_at < datetime.combine(query.issued_to + timedelta(days=1), time(), UTC)
        )
    if query.q:
        conditions.append(Record.names.like(_like(fold(query.q)), escape="\\"))
    if query.card:
        conditions.append(
            exists().where(and_(RecordCard.record_pk == Record.pk, RecordCard.token == query.card))
        )
    if query.cursor:
        conditions.append(Record.pk < decode_cursor(query.cursor))
    rows = db.session.execute(
        select(Record, RecordVersion, SigningKey)
        .join(
            RecordVersion,
            and_(RecordVersion.record_pk == Record.pk, RecordVersion.version == Record.version),
        )
        .join(SigningKey, SigningKey.kid == RecordVersion.kid)
        .where(*conditions)
        .order_by(Record.pk.desc())
        .limit(query.limit + 1)
    ).all()
    items = [VersionView(record.id, version, key) for record, version, key in rows[: query.limit]]
    next_cursor = encode_cursor(rows[query.limit - 1][0].pk) if len(rows) > query.limit else None
    return SearchPage(items=items, next_cursor=next_cursor)
