"""Reading records: by id, by version, and by search, always through the policy."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Integer, and_, bindparam, exists, func, or_, select, text

from exchange.agencies.policy import Policy, current_policy
from exchange.auth.actor import Actor
from exchange.clock import rfc3339
from exchange.errors import Kind, Refusal
from exchange.extensions import db
from exchange.pki.models import SigningKey
from exchange.records.disposed import DISPOSED, disposed_refusal
from exchange.records.models import Record, RecordAudience, RecordCard, RecordTag, RecordVersion
from exchange.records.signing import compromise_flag
from exchange.records.tags import ALLEGATION, PROGRAMME
from exchange.records.textsearch import TextMatch, text_match
from schemas import is_record_id

_audience_table = RecordAudience.__table__


def readable(actor: Actor, policy: Policy, record: Any, audience: list[str]) -> bool:
    if record.publisher == actor.agency_id:
        return True
    if not policy.may_read(actor.agency_kind, record.type):
        return False
    return not record.audience_restricted or any(a in audience for a in actor.agency_lineage)


def _deny(record_type: str) -> Refusal:
    return Refusal(
        Kind.FORBIDDEN,
        "policy_denied",
        "Not allowed by the sharing policy",
        f"Your agency may not read this {record_type} record.",
    )


def record_id_from_path(value: str) -> str:
    """A record id taken from a URL, refused unless it is one (DESIGN §3: a canonical UUID).

    Refused as a malformed request, not as a missing record: a client that builds its
    URLs wrongly learns that, rather than that the record does not exist.
    """
    if not is_record_id(value):
        raise Refusal(
            Kind.MALFORMED,
            "record_id_invalid",
            "Malformed record id",
            "A record id is a lower-case canonical UUID.",
            errors=[{"parameter": "record_id", "detail": "Not a lower-case canonical UUID."}],
        )
    return value


def _load_readable(actor: Actor, record_id: str) -> Record:
    record: Record | None = db.session.scalar(select(Record).where(Record.id == record_id))
    if record is None:
        raise Refusal(
            Kind.NOT_FOUND, "record_not_found", "No such record", f"No record {record_id!r}."
        )
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
    if record.status == DISPOSED:
        raise disposed_refusal(record_id)
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
# What a VersionView reads of a version and its key, as row attributes.
_VIEW_COLUMNS = (
    _record.c.pk,
    _record.c.publisher,
    _record.c.type,
    _record.c.audience_restricted,
    _record.c.status.label("record_status"),
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
_VERSION_AND_KEY = _record.join(_version, _version.c.record_pk == _record.c.pk).join(
    _key, _key.c.kid == _version.c.kid
)
_READ_VERSION = (
    select(*_VIEW_COLUMNS)
    .select_from(_VERSION_AND_KEY)
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
        if row.record_status == DISPOSED:
            raise disposed_refusal(record_id)
        return VersionView(record_id, row, row)
    # Either no such record, or no such version of one: the policy speaks first.
    record = _load_readable(actor, record_id)
    views = _versions(record, version if version is not None else record.version)
    if not views:
        raise Refusal(
            Kind.NOT_FOUND,
            "version_not_found",
            "No such version",
            f"Record has {record.version} version(s).",
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
    allegation: str | None = None
    programme: str | None = None
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
        raise Refusal(
            Kind.MALFORMED,
            "cursor_invalid",
            "Invalid cursor",
            errors=[{"parameter": "cursor", "detail": "Not a cursor this exchange issued."}],
        ) from None


_CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")
# How many of the newest records are filtered before a trigram index is asked.
RECENT_WINDOW = 5000


def _page_keys(source: Any, conditions: list[Any], order_key: Any, limit: int) -> list[int]:
    """The page's record keys, from the record table alone: versions and keys are read for
    these rows only."""
    statement = select(Record.pk).select_from(source).where(*conditions)
    return list(db.session.scalars(statement.order_by(order_key.desc()).limit(limit)))


def _keys_newest_first(
    match: TextMatch, conditions: list[Any], limit: int, before: int | None
) -> list[int]:
    """The page's keys when the text index hands over matches unordered (pg_trgm).

    The planner chooses between the trigram index (every match fetched, then sorted) and
    a newest-first scan (stops after a page) by its estimate of how common the term is,
    and its estimates for ``LIKE '%…%'`` can be off a hundredfold (3,671 matches where 25
    were expected, on 300,000 records). So the newest ``RECENT_WINDOW`` keys are filtered
    first, by key and never through the trigram index: a common term fills the page there,
    cheaply; a term that does not is rare enough that fetching all its older matches
    through the index is cheap too.
    """
    newest = select(func.max(Record.pk))
    if before is not None:
        newest = newest.where(Record.pk < before)
    # Keys are handed out in sequence: gaps (rolled-back inserts) only shrink the window.
    boundary = (db.session.scalar(newest) or 0) - RECENT_WINDOW + 1
    if boundary <= 1:
        return _page_keys(Record, [*conditions, *match.conditions], Record.pk, limit)
    recent = _page_keys(
        Record, [*conditions, *match.scan_conditions, Record.pk >= boundary], Record.pk, limit
    )
    if len(recent) == limit:
        return recent
    older = [*conditions, *match.conditions, Record.pk < boundary]
    return recent + _page_keys(Record, older, Record.pk, limit - len(recent))


def readable_conditions(actor: Actor) -> list[Any]:
    """The sharing policy and the records' audiences as SQL conditions on ``record``."""
    readable_types = current_policy().readable_types(actor.agency_kind)
    return [
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


def tagged(kind: str, value: str) -> Any:
    """SQL: the record's current version carries the tag (exchange.records.tags)."""
    return exists().where(
        and_(RecordTag.kind == kind, RecordTag.value == value, RecordTag.record_pk == Record.pk)
    )


def _matching(actor: Actor, query: SearchQuery, dialect: str) -> tuple[list[Any], Any]:
    """The conditions on ``record`` for every filter of ``query`` but its cursor, and the
    text match of ``q`` (or None)."""
    # A disposed record keeps no search rows, and nothing of it is shown in a list.
    conditions = [*readable_conditions(actor), Record.status != DISPOSED]
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
    if query.allegation:
        conditions.append(tagged(ALLEGATION, query.allegation))
    if query.programme:
        conditions.append(tagged(PROGRAMME, query.programme))
    if query.status:
        conditions.append(Record.status == query.status)
    if query.issued_from:
        conditions.append(Record.issued_at >= datetime.combine(query.issued_from, time(), UTC))
    if query.issued_to:
        conditions.append(
            Record.issued_at < datetime.combine(query.issued_to + timedelta(days=1), time(), UTC)
        )
    match = text_match(query.q, dialect) if query.q else None
    if query.card:
        conditions.append(
            exists().where(and_(RecordCard.record_pk == Record.pk, RecordCard.token == query.card))
        )
    return conditions, match


# Matches counted for a search's total: beyond this, the page says "more than".
COUNT_BOUND = 1000


def count_matches(*, actor: Actor, query: SearchQuery, bound: int = COUNT_BOUND) -> int:
    """How many records the caller may read match ``query`` (its cursor aside), counting
    no further than ``bound + 1``: a total for people, at the cost of a bounded scan."""
    conditions, match = _matching(actor, query, db.session.get_bind().dialect.name)
    source = match.source if match is not None else Record
    text_conditions = match.conditions if match is not None else []
    counted = (
        select(Record.pk)
        .select_from(source)
        .where(*conditions, *text_conditions)
        .limit(bound + 1)
        .subquery()
    )
    return int(db.session.scalar(select(func.count()).select_from(counted)) or 0)


def search_records(*, actor: Actor, query: SearchQuery) -> SearchPage:
    """A page of the records the caller may read that match every filter, newest first.

    ``q`` is free text over names and aliases: every word of it must occur in a name,
    folded as names are (``exchange.records.textsearch``). Withdrawn records are found like
    active ones unless ``status`` says otherwise.
    """
    dialect = db.session.get_bind().dialect.name
    conditions, match = _matching(actor, query, dialect)
    # The text index hands out matches in its own key order, which is record.pk; cursor
    # and order on that key let it start at the cursor and stop after a page.
    order_key = match.key if match is not None else Record.pk
    before = decode_cursor(query.cursor) if query.cursor else None
    if before is not None:
        conditions.append(order_key < before)
    if dialect == "postgresql":
        # psycopg prepares a statement on the server after five executions, and PostgreSQL
        # may then switch it to a generic plan, which cannot see the search term: it no
        # longer knows whether the trigram index or a newest-first scan finds a page
        # sooner, and can guess wrong by an order of magnitude. A custom plan is made for
        # each execution instead, in this transaction only.
        db.session.execute(_CUSTOM_PLANS)
    limit = query.limit + 1
    source = match.source if match is not None else Record
    if match is not None and not match.in_key_order:
        keys = _keys_newest_first(match, conditions, limit, before)
    else:
        text_conditions = match.conditions if match is not None else []
        keys = _page_keys(source, [*conditions, *text_conditions], order_key, limit)
    # Rows, not ORM objects: a page is fifty versions, and building objects for them cost
    # more than finding them.
    rows = (
        db.session.connection()
        .execute(
            select(_record.c.id, *_VIEW_COLUMNS)
            .select_from(_VERSION_AND_KEY)
            .where(_record.c.pk.in_(keys), _version.c.version == _record.c.version)
            .order_by(_record.c.pk.desc())
        )
        .all()
        if keys
        else []
    )
    items = [VersionView(row.id, row, row) for row in rows[: query.limit]]
    next_cursor = encode_cursor(rows[query.limit - 1].pk) if len(rows) > query.limit else None
    return SearchPage(items=items, next_cursor=next_cursor)
