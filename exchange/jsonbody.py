"""Strict JSON request bodies: signed data must have exactly one reading.

Refused: a body that is not UTF-8, nesting deeper than the configured limit (checked on
the raw bytes before parsing, so a hostile body cannot exhaust the parser's stack),
duplicate object keys (two parsers could read two different records from one signature),
the non-standard constants NaN and Infinity, and numbers no JSON value can hold (an integer
past Python's conversion limit, a float that overflows to infinity). Whatever the parser
cannot read is ``json_invalid``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import marshmallow as ma
from flask import current_app, request

from exchange.problems import Problem
from schemas import errors_from_marshmallow

_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_INNERMOST = re.compile(rb"[\[{][\]}]")


def nesting_depth(body: bytes, limit: int) -> int:
    """Depth of brackets outside strings; stops counting once past ``limit``.

    Strings are removed and everything but brackets deleted by C-speed passes. In JSON the
    brackets that remain are balanced, and each pass that deletes every adjacent opening
    and closing pair (the innermost containers) takes one level off: the passes until
    nothing is left are the depth. Brackets that do not balance are counted one by one.
    """
    brackets = _outside_strings(body).translate(None, _NOT_BRACKETS)
    if len(brackets) <= limit:
        return len(brackets)
    remaining = brackets
    for depth in range(limit + 2):
        if not remaining:
            return depth
        shorter = _INNERMOST.sub(b"", remaining)
        if len(shorter) == len(remaining):
            break
        remaining = shorter
    return _counted_depth(brackets, limit)


def _outside_strings(body: bytes) -> bytes:
    """The body without its strings.

    Escaped backslashes go first, then escaped quotes, left to right as a parser reads
    them; the quotes left delimit the strings. Up to the first byte a parser would refuse,
    this is exact, and a parser reads no further.
    """
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    return b"".join(unescaped.split(b'"')[0::2])


def _counted_depth(brackets: bytes, limit: int) -> int:
    depth = deepest = 0
    for byte in brackets:
        if byte in (0x5B, 0x7B):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        else:
            depth -= 1
    return deepest


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise Problem(400, "json_duplicate_key", "Duplicate key", f"Key {key!r} appears twice.")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise Problem(400, "json_invalid", "Malformed JSON", f"{name} is not JSON.")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        # 1e400 would be read as infinity: a value JSON cannot carry back out.
        raise Problem(400, "json_invalid", "Malformed JSON", f"{text[:40]} is out of range.")
    return value


def parse_json(body: bytes, *, max_depth: int) -> Any:
    if not body:
        raise Problem(400, "body_required", "Empty body", "A JSON body is required.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Problem(
            400, "encoding_invalid", "Body is not UTF-8", f"Invalid UTF-8 at byte {error.start}."
        ) from None
    if nesting_depth(body, max_depth) > max_depth:
        raise Problem(400, "json_too_deep", "Nesting too deep", f"At most {max_depth} levels.")
    try:
        return json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constants,
            parse_float=_finite_float,
        )
    except json.JSONDecodeError as error:
        raise Problem(
            400,
            "json_invalid",
            "Malformed JSON",
            f"{error.msg} at line {error.lineno} column {error.colno}.",
        ) from None
    except (ValueError, RecursionError):
        # Raised from inside the parser without a position: int() past
        # sys.get_int_max_str_digits() is a plain ValueError, not a JSONDecodeError.
        raise Problem(
            400, "json_invalid", "Malformed JSON", "A value cannot be read as JSON."
        ) from None


def request_json() -> Any:
    """The current request's body, parsed strictly."""
    mimetype = request.mimetype
    if mimetype != "application/json":
        raise Problem(
            415, "unsupported_media_type", "Unsupported media type", "Send application/json."
        )
    # get_data honours MAX_CONTENT_LENGTH: an oversized body raises 413 unread.
    body = request.get_data(cache=False)
    return parse_json(body, max_depth=current_app.config["EXCHANGE_MAX_JSON_DEPTH"])


def load_body(schema: ma.Schema) -> dict[str, Any]:
    """The request body loaded by a marshmallow schema; errors as field pointers."""
    try:
        loaded: dict[str, Any] = schema.load(request_json())
    except ma.ValidationError as error:
        errors = [e.as_dict() for e in errors_from_marshmallow(error.messages)]
        raise Problem(422, "schema_invalid", "Invalid body", errors=errors) from None
    return loaded
