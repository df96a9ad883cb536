"""JSON Canonicalization Scheme (RFC 8785): the bytes that records and proofs are signed over.

Most documents the exchange canonicalizes — record envelopes, receipts, audit entries —
hold only ASCII object keys, strings, safe integers, booleans and nulls. For those, RFC
8785 coincides with the standard library's compact, key-sorted, non-ASCII-preserving
``json.dumps``: key order by UTF-16 code units equals order by code points for ASCII keys
(§3.2.3), integers serialize as ECMAScript does within ±2^53 (§3.2.2.3), and strings are
escaped alike (only ``"``, ``\\`` and controls; controls as ``\\b \\t \\n \\f \\r`` or
lowercase ``\\u00xx``, §3.2.2.2). Such documents take that C-speed path after a check of
their shape; everything else goes through the ``rfc8785`` reference implementation.
"""

import json
from typing import Any, cast

import rfc8785

from keys.errors import CanonicalizationError

__all__ = ["canonicalize"]

_SAFE_INTEGER = 2**53 - 1
_MAX_FAST_DEPTH = 64
_encode = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
).encode


def _fast_path_applies(value: object, depth: int = 0) -> bool:
    """True when ``value`` holds only what both serializations write identically."""
    if depth > _MAX_FAST_DEPTH:
        return False
    kind = type(value)
    if kind is str:
        # Lone surrogates have no UTF-8 form; the reference path reports them.
        return not _has_surrogate(cast(str, value))
    if kind is int:
        return -_SAFE_INTEGER <= cast(int, value) <= _SAFE_INTEGER
    if value is None or kind is bool:
        return True
    if kind is dict:
        for key, item in cast(dict[Any, Any], value).items():
            if type(key) is not str or not key.isascii():
                return False
            if not _fast_path_applies(item, depth + 1):
                return False
        return True
    if kind is list:
        return all(_fast_path_applies(item, depth + 1) for item in cast(list[Any], value))
    return False


def _has_surrogate(text: str) -> bool:
    # Cheap screen: only text that is not ASCII can hold a surrogate.
    return not text.isascii() and any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)


def canonicalize(value: object) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON-compatible ``value``.

    Raises :class:`~keys.errors.CanonicalizationError` for anything without a canonical form:
    NaN and infinities (RFC 8785 §3.2.2.3), integers outside the IEEE 754 safe range
    (RFC 8785 §3.2.2.3, RFC 7493 §2.2), non-string object keys, lone surrogates, and types
    JSON does not have.
    """
    if _fast_path_applies(value):
        return _encode(value).encode("utf-8")
    try:
        return rfc8785.dumps(cast(Any, value))
    # rfc8785 sorts keys by their UTF-16 encoding before it checks them, so a lone surrogate
    # in a key surfaces as a bare UnicodeError (a ValueError); cyclic or absurdly deep values
    # as RecursionError.
    except (ValueError, RecursionError) as exc:
        raise CanonicalizationError(f"value has no RFC 8785 form: {exc}") from None
