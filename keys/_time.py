"""Instants as the X.509 and JOSE code here wants them: timezone-aware, in UTC."""

from datetime import UTC, datetime


def utc(moment: datetime | None = None) -> datetime:
    """``moment`` in UTC, or the current time; a naive datetime is refused, not guessed at."""
    if moment is None:
        return datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return moment.astimezone(UTC)
