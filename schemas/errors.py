"""Validation errors as RFC 6901 JSON Pointers into the submitted document.

A publisher fixes a rejected record from the pointers alone, so every error names the
exact member it is about, and the list is complete and in a stable order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from marshmallow.exceptions import SCHEMA as _WHOLE_OBJECT  # errors about a whole object


@dataclass(frozen=True)
class FieldError:
    """One problem with one member of a document."""

    pointer: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"pointer": self.pointer, "detail": self.detail}


class SchemaInvalid(Exception):
    """A document failed validation; ``errors`` says where and why, sorted by pointer."""

    code = "schema_invalid"

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors: tuple[FieldError, ...] = tuple(
            sorted(errors, key=lambda error: (error.pointer, error.detail))
        )
        count = len(self.errors)
        super().__init__(f"{count} invalid field{'' if count == 1 else 's'}")


def escape_pointer_token(token: str) -> str:
    """RFC 6901 §3: "~" is written "~0" and "/" is written "~1" (in that order)."""
    return token.replace("~", "~0").replace("/", "~1")


def errors_from_marshmallow(
    messages: Mapping[Any, Any] | Sequence[Any] | str, prefix: str = ""
) -> list[FieldError]:
    """Flatten marshmallow's nested error messages into pointer-addressed errors.

    Dict keys are member names or list indexes; lists hold messages for the member the
    enclosing key names. ``prefix`` is the pointer of the object ``messages`` describe.
    """
    found: list[FieldError] = []
    _collect(messages, prefix, found)
    return found


def _collect(node: Any, pointer: str, found: list[FieldError]) -> None:
    if isinstance(node, str):
        found.append(FieldError(pointer, node))
    elif isinstance(node, Mapping):
        for key, child in node.items():
            if key == _WHOLE_OBJECT:
                _collect(child, pointer, found)
            else:
                _collect(child, f"{pointer}/{escape_pointer_token(str(key))}", found)
    else:
        for child in node:
            _collect(child, pointer, found)
