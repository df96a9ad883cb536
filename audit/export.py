"""The audit export: a signed checkpoint and log entries, as JSON Lines, for offline checking.

Line 1 is the header ``{"format": "exchange-audit-export/1", "checkpoint": <signed note>,
"size": N, "complete": true|false}``; every further line is one entry ``{"index": i,
"entry": <base64 leaf bytes>, "proof": [<base64 hash>, ...]}``, in increasing index order.
A complete export holds leaves 0..N-1 and may leave out the proofs; a filtered one holds
any subset, each entry with its RFC 9162 inclusion proof against the checkpoint.
"""

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from audit._codec import b64decode, b64encode
from audit.errors import ExportError
from audit.merkle import HASH_SIZE

FORMAT = "exchange-audit-export/1"
_HEADER_KEYS = frozenset({"format", "checkpoint", "size", "complete"})
_ENTRY_KEYS = frozenset({"index", "entry"})


class TextSink(Protocol):
    def write(self, text: str, /) -> object: ...


@dataclass(frozen=True)
class ExportHeader:
    checkpoint: bytes
    size: int
    complete: bool


@dataclass(frozen=True)
class ExportEntry:
    index: int
    entry: bytes
    proof: tuple[bytes, ...] | None


def _line(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n"


def write_export(
    stream: TextSink,
    *,
    checkpoint_note: bytes,
    size: int,
    entries: Iterable[tuple[int, bytes, Sequence[bytes] | None]],
    complete: bool,
) -> int:
    """Write an export of ``entries`` (index, leaf bytes, proof or None); return the count.

    The entries are streamed, so a mistake found late (a gap in a complete export) raises
    after earlier lines were written: the caller discards the output.
    """
    try:
        note_text = checkpoint_note.decode("utf-8")
    except UnicodeDecodeError:
        raise ExportError("the checkpoint note is not UTF-8") from None
    header = {"format": FORMAT, "checkpoint": note_text, "size": size, "complete": complete}
    stream.write(_line(header))
    count, previous = 0, -1
    for index, entry, proof in entries:
        if complete and index != count:
            raise ExportError(f"a complete export needs index {count} next", index=index)
        if not previous < index < size:
            raise ExportError(f"entry at index {index} is out of order or range", index=index)
        if proof is None and not complete:
            raise ExportError(f"entry at index {index} needs an inclusion proof", index=index)
        line: dict[str, Any] = {"index": index, "entry": b64encode(entry)}
        if proof is not None:
            line["proof"] = [b64encode(node) for node in proof]
        stream.write(_line(line))
        previous = index
        count += 1
    if complete and count != size:
        raise ExportError(f"a complete export needs {size} entries, not {count}", index=count)
    return count


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise ValueError("duplicate key")
    return value


# Duplicate keys are refused so that no other JSON reader can see a different entry.
_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys)


def _parse_line(line: bytes | str, number: int) -> dict[str, Any]:
    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
        value = _DECODER.decode(text.removesuffix("\n").removesuffix("\r"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ExportError(f"line {number} is not a JSON object") from None
    if not isinstance(value, dict):
        raise ExportError(f"line {number} is not a JSON object")
    return value


def _is_count(value: object) -> bool:
    return type(value) is int and value >= 0


def _header(line: bytes | str) -> ExportHeader:
    value = _parse_line(line, 1)
    if value.get("format") != FORMAT:
        raise ExportError(f"not an {FORMAT} export")
    if (
        set(value) != _HEADER_KEYS
        or not isinstance(value["checkpoint"], str)
        or not _is_count(value["size"])
        or not isinstance(value["complete"], bool)
    ):
        raise ExportError("the export header is malformed")
    return ExportHeader(
        checkpoint=value["checkpoint"].encode(), size=value["size"], complete=value["complete"]
    )


def _entry(line: bytes | str, number: int) -> ExportEntry:
    value = _parse_line(line, number)
    index = value.get("index")
    if type(index) is not int or index < 0 or set(value) - {"proof"} != _ENTRY_KEYS:
        raise ExportError(f"line {number} is not an export entry")
    where = f"entry at index {index}"
    proof = value.get("proof")
    if not isinstance(value["entry"], str) or not isinstance(proof, list | None):
        raise ExportError(f"{where} is malformed", index=index)
    try:
        entry = b64decode(value["entry"])
        nodes = None if proof is None else tuple(b64decode(node) for node in proof)
    except (TypeError, ValueError):
        raise ExportError(f"{where} is not base64", index=index) from None
    if nodes is not None and any(len(node) != HASH_SIZE for node in nodes):
        raise ExportError(f"{where} has a proof hash that is not {HASH_SIZE} bytes", index=index)
    return ExportEntry(index=index, entry=entry, proof=nodes)


def read_export(lines: Iterable[bytes | str]) -> tuple[ExportHeader, Iterator[ExportEntry]]:
    """Parse the header now and the entries as they are iterated; check no signatures."""
    numbered = enumerate(lines, start=1)
    first = next(numbered, None)
    if first is None:
        raise ExportError("the export is empty")
    return _header(first[1]), (_entry(line, number) for number, line in numbered)
