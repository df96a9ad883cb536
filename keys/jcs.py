"""JSON Canonicalization Scheme (RFC 8785): the bytes that records and proofs are signed over."""

from typing import Any, cast

import rfc8785

from keys.errors import CanonicalizationError

__all__ = ["canonicalize"]


def canonicalize(value: object) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON-compatible ``value``.

    Raises :class:`~keys.errors.CanonicalizationError` for anything without a canonical form:
    NaN and infinities (RFC 8785 §3.2.2.3), integers outside the IEEE 754 safe range
    (RFC 8785 §3.2.2.3, RFC 7493 §2.2), non-string object keys, lone surrogates, and types
    JSON does not have.
    """
    try:
        return rfc8785.dumps(cast(Any, value))
    # rfc8785 sorts keys by their UTF-16 encoding before it checks them, so a lone surrogate
    # in a key surfaces as a bare UnicodeError (a ValueError); cyclic or absurdly deep values
    # as RecursionError.
    except (ValueError, RecursionError) as exc:
        raise CanonicalizationError(f"value has no RFC 8785 form: {exc}") from None
