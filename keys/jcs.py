"""JSON Canonicalization Scheme (RFC 8785): the bytes that records and proofs are signed over.

Most documents the exchange canonicalizes — record envelopes, receipts, audit entries —
hold only ASCII object keys, strings, safe integers, booleans and nulls. For those, RFC
8785 coincides with orjson's compact, key-sorted output: key order by UTF-16 code units
equals order by code points for ASCII keys (§3.2.3), integers serialize as ECMAScript does
within ±2^53 (§3.2.2.3), and strings are escaped alike (only ``"``, ``\\`` and controls;
controls as ``\\b \\t \\n \\f \\r`` or lowercase ``\\u00xx``, §3.2.2.2), with non-ASCII
characters written as UTF-8. Such documents take that native path after a check of their
shape; everything else goes through the ``rfc8785`` reference implementation.
"""

from typing import Any, cast

import orjson
import rfc8785

from keys.errors import CanonicalizationError

__all__ = ["canonicalize"]

_SAFE_INTEGER = 2**53 - 1
_MAX_FAST_NODES = 100_000


def _fast_path_applies(value: object) -> bool:
    """True when ``value`` holds only what both serializations write identically.

    Strings need no look: a lone surrogate makes the UTF-8 encoding fail, and that
    failure sends the value to the reference path, which reports it.
    """
    stack = [value]
    budget = _MAX_FAST_NODES
    while stack:
        budget -= 1
        if budget < 0:
            # Huge or cyclic values are left to the reference path and its limits.
            return False
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            mapping = cast(dict[Any, Any], item)
            for key in mapping:
                if type(key) is not str or not key.isascii():
                    return False
            stack.extend(mapping.values())
        elif kind is list:
            stack.extend(cast(list[Any], item))
        elif kind is int:
            if not -_SAFE_INTEGER <= cast(int, item) <= _SAFE_INTEGER:
                return False
        elif not (kind is str or kind is bool or item is None):
            return False
    return True


def canonicalize(value: object) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON-compatible ``value``.

    Raises :class:`~keys.errors.CanonicalizationError` for anything without a canonical form:
    NaN and infinities (RFC 8785 §3.2.2.3), integers outside the IEEE 754 safe range
    (RFC 8785 §3.2.2.3, RFC 7493 §2.2), non-string object keys, lone surrogates, and types
    JSON does not have.
    """
    if _fast_path_applies(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            # A lone surrogate, or nesting past orjson's limit: the reference path decides.
            pass
    try:
        return rfc8785.dumps(cast(Any, value))
    # rfc8785 sorts keys by their UTF-16 encoding before it checks them, so a lone surrogate
    # in a key surfaces as a bare UnicodeError (a ValueError); cyclic or absurdly deep values
    # as RecursionError.
    except (ValueError, RecursionError) as exc:
        raise CanonicalizationError(f"value has no RFC 8785 form: {exc}") from None
