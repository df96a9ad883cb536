"""Column types and table options shared by the domains."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator

from exchange.clock import as_utc


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python on every database (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return as_utc(value)


def append_only(*, disposable: tuple[str, ...] = ()) -> dict[str, Any]:
    """Table options of a table the database keeps append-only (triggers in the migrations).

    The serving role gets SELECT and INSERT on it and nothing else (``exchange.grants``),
    but UPDATE of the ``disposable`` columns, which a trigger lets a disposal empty.
    """
    return {"info": {"append_only": True, "disposable": disposable}}
