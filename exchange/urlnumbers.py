"""Numbers in URLs, query strings and path segments: ASCII digits in canonical form only.

Python's ``int()`` and ``float()`` read ``5_0``, ``+5``, `` 5``, ``05``, fullwidth ``５`` and
Arabic-Indic ``٥`` as numbers, and ``str.isdigit`` says yes to all of those and more
(``²``, which ``int`` then refuses). One number has one spelling here, so a cursor, a
version or a size written two ways is never two cache keys, two audit details or two
readings of one request.
"""

from __future__ import annotations

import re
from typing import Any

import marshmallow as ma

_INTEGER = re.compile(r"0|[1-9][0-9]*", re.ASCII)
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]+)?", re.ASCII)

# Longer than any value a route accepts; refused before int() so that a hostile
# parameter costs nothing to read.
_MAX_DIGITS = 19


def canonical_int(text: str) -> int | None:
    """``text`` as a non-negative integer, or None unless it is written canonically."""
    if len(text) > _MAX_DIGITS or not _INTEGER.fullmatch(text):
        return None
    return int(text)


class CanonicalInteger(ma.fields.Integer):
    """A non-negative integer written as ASCII digits without sign, padding or separators."""

    message = "Not a non-negative integer in ASCII digits."

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        number = canonical_int(value) if isinstance(value, str) else None
        if number is None:
            raise ma.ValidationError(self.message)
        return number


class CanonicalDecimal(ma.fields.Float):
    """A non-negative decimal number (``2``, ``0.5``) in ASCII digits, without exponent."""

    message = "Not a non-negative decimal number in ASCII digits."

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if not isinstance(value, str) or len(value) > 32 or not _DECIMAL.fullmatch(value):
            raise ma.ValidationError(self.message)
        return float(value)
