"""Refusals: why a service will not do what it was asked, in the domain's own terms.

A refusal has a kind (the input is invalid, the caller may not, nothing is there, it
conflicts with what is stored ...) and a stable code. Services raise refusals and know
nothing of HTTP; the API and the pages answer each kind with its status (exchange.problems).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any


class Kind(Enum):
    MALFORMED = "malformed"  # cannot be read at all
    INVALID = "invalid"  # read, but breaks a rule of its schema or of the domain
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"  # with what is stored
    GONE = "gone"
    TOO_LARGE = "too_large"
    TOO_MANY = "too_many"
    UNAVAILABLE = "unavailable"


class Refusal(Exception):
    """What a service refuses, with a stable ``code`` and, for input, the fields at fault."""

    def __init__(
        self,
        kind: Kind,
        code: str,
        title: str,
        detail: str | None = None,
        *,
        errors: Sequence[Mapping[str, Any]] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(code)
        self.kind = kind
        self.code = code
        self.title = title
        self.detail = detail
        self.errors = list(errors)
        self.extra = dict(extra or {})
