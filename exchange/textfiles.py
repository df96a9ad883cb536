"""Reading the files people hand the exchange: UTF-8 text and JSON, with or without a BOM.

Windows tools often save UTF-8 with a byte-order mark (Notepad, Excel's "CSV UTF-8"): the
same text, read as such. Shift_JIS (cp932), what Japanese Windows writes by default, is
refused rather than guessed at: a record signed from text decoded the wrong way would keep
the wrong names for ever, since versions are never changed.
"""

from __future__ import annotations

import codecs
import json
from pathlib import Path
from typing import Any

__all__ = ["UnreadableFile", "read_json", "read_text"]


class UnreadableFile(ValueError):
    """A file that is not UTF-8 text, or not the JSON it should be; the message names it."""


def read_text(path: str | Path) -> str:
    """The file's text, decoded as UTF-8 with an optional BOM; OSError if it cannot be read."""
    data = Path(path).read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UnreadableFile(f"{path} is UTF-16 text; save it as UTF-8 and try again.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnreadableFile(_not_utf8(path, data, error)) from None


def read_json(path: str | Path) -> Any:
    """The JSON document in the file, read as by :func:`read_text`."""
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UnreadableFile(
            f"{path} is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}."
        ) from None
    except ValueError as error:
        # Python's own limits, such as on the digits of an integer, are not syntax errors.
        raise UnreadableFile(f"{path} is not usable JSON: {error}.") from None


def _not_utf8(path: str | Path, data: bytes, error: UnicodeDecodeError) -> str:
    try:
        data.decode("cp932")
    except UnicodeDecodeError:
        return (
            f"{path} is not UTF-8 text (at byte offset {error.start}); "
            "save it as UTF-8 and try again."
        )
    return (
        f"{path} is not UTF-8 but looks like Shift_JIS (cp932), as Japanese Windows saves "
        "by default; save it as UTF-8 and try again."
    )
