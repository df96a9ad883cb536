"""What a TAXII 2.1 request asks for and what it gets: filters, cursors, dates added, pages."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from exchange.errors import Kind, Refusal

STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


# TAXII 2.1 §3.2: an RFC 3339 timestamp in UTC; fractions beyond microseconds are dropped.
_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$")


def parse_timestamp(value: str, *, parameter: str) -> datetime:
    match = _TIMESTAMP.match(value)
    if match is not None:
        try:
            moment = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
        except ValueError:
            pass
        else:
            fraction = (match.group(2) or "")[:6].ljust(6, "0")
            return moment + timedelta(microseconds=int(fraction))
    raise Refusal(
        Kind.MALFORMED,
        "timestamp_invalid",
        "Invalid timestamp",
        errors=[{"parameter": parameter, "detail": "An RFC 3339 UTC timestamp ending in Z."}],
    )


def date_added(moment: datetime) -> str:
    # Full precision: a client sends it back as added_after, and must miss nothing.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: a feed position and an object's index within it."""

    position: int
    offset: int = 0

    def encode(self) -> str:
        raw = json.dumps([self.position, self.offset]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> Cursor:
        try:
            padded = value + "=" * (-len(value) % 4)
            position, offset = json.loads(base64.urlsafe_b64decode(padded.encode()))
            if type(position) is not int or type(offset) is not int:
                raise ValueError(value)
            if not (0 <= position < 2**63 and 0 <= offset < 2**31):
                raise ValueError(value)
            return cls(position, offset)
        except (ValueError, TypeError, UnicodeDecodeError):
            raise Refusal(
                Kind.MALFORMED,
                "next_invalid",
                "Invalid next",
                errors=[{"parameter": "next", "detail": "Not a value this server issued."}],
            ) from None


@dataclass(frozen=True)
class ObjectQuery:
    """TAXII 2.1 §3.4.1 filters and §3.4.2 paging of one request."""

    added_after: datetime | None = None
    limit: int = DEFAULT_LIMIT
    next: Cursor | None = None
    ids: Sequence[str] = ()
    types: Sequence[str] = ()
    # first | last | all | a STIX timestamp; TAXII 2.1 §3.4.1: "last" when not given.
    versions: Sequence[str] = ("last",)
    spec_versions: Sequence[str] = ()


def object_version(obj: dict[str, Any]) -> str:
    # STIX 2.1 §7.2.1: a marking definition is never versioned and has no modified.
    return str(obj.get("modified", obj["created"]))


@dataclass(frozen=True)
class Entry:
    object: dict[str, Any]
    date_added: datetime
    record_id: str | None = None
    record_version: int | None = None

    def manifest(self) -> dict[str, Any]:
        return {
            "id": self.object["id"],
            "date_added": date_added(self.date_added),
            "version": object_version(self.object),
            "media_type": STIX_MEDIA_TYPE,
        }


@dataclass
class ObjectPage:
    entries: list[Entry] = field(default_factory=list)
    more: bool = False
    next: str | None = None

    @property
    def targets(self) -> list[tuple[str, int]]:
        """The record versions the page's objects came from, once each, in order."""
        versions = (
            (e.record_id, e.record_version)
            for e in self.entries
            if e.record_id is not None and e.record_version is not None
        )
        return list(dict.fromkeys(versions))
