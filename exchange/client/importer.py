"""Rows of a spreadsheet as record envelopes: headings mapped to fields, cells to values, every
row validated with the record schemas before anything is signed.

A row's record id is a UUIDv5 of the agency, the record type and the row's key — the sheet's
id column (管理番号) when it has one, else the corporate number of a broker, else the type's
natural key (a broker's normalised name and country) — so a re-run names the same records.
"""

from __future__ import annotations

import json
import tomllib
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from exchange.client.import_cells import cell_value
from exchange.client.import_columns import (
    COLUMNS,
    DEFAULT_LEGAL_BASIS,
    NATURAL_KEYS,
    Column,
    heading_key,
)
from exchange.client.import_report import Problem
from exchange.client.tables import Table
from exchange.textfiles import UnreadableFile
from keys.jcs import canonicalize
from schemas import RECORD_TYPES, SCHEMA_NAMES, SchemaInvalid, validate_envelope

# The namespace of import row identities; fixed for ever, or re-runs would name new records.
ROW_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:exchange:import-row")
RETENTION_YEARS = 5


@dataclass(frozen=True)
class ImportMapping:
    """How an unusual sheet is read: its headings for fields, extra words for codes, values
    every row gets, the id column, the sheet and its heading row."""

    record_type: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    key: str | None = None
    sheet: str | None = None
    header_row: int = 1


def load_mapping(path: Path) -> ImportMapping:
    """A mapping file, JSON or TOML (by its suffix)."""
    text = path.read_bytes().decode("utf-8-sig")
    try:
        document = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        raise UnreadableFile(f"{path} is not a valid mapping file: {error}.") from None
    if not isinstance(document, dict):
        raise UnreadableFile(f"{path} is not a mapping file: it holds no table of settings.")
    unknown = set(document) - {
        "type",
        "columns",
        "labels",
        "defaults",
        "key",
        "sheet",
        "header_row",
    }
    if unknown:
        raise UnreadableFile(f"{path} has unknown settings: {', '.join(sorted(unknown))}.")
    record_type = document.get("type")
    if record_type is not None and record_type not in RECORD_TYPES:
        raise UnreadableFile(f"{path}: type must be one of {', '.join(RECORD_TYPES)}.")
    return ImportMapping(
        record_type=record_type,
        columns=dict(document.get("columns", {})),
        labels={k: dict(v) for k, v in document.get("labels", {}).items()},
        defaults=dict(document.get("defaults", {})),
        key=document.get("key"),
        sheet=document.get("sheet"),
        header_row=int(document.get("header_row", 1)),
    )


@dataclass
class ImportRow:
    number: int
    record_id: str
    payload: dict[str, Any]
    envelope: dict[str, Any]


@dataclass
class ImportPlan:
    """A sheet read and checked: the rows ready to sign, and every problem found."""

    source: str
    encoding: str
    record_type: str
    publisher: str
    columns: dict[str, str]
    ignored: list[str]
    rows: list[ImportRow]
    problems: list[Problem]
    row_count: int

    @property
    def invalid_rows(self) -> int:
        return len({p.row for p in self.problems})


def guess_record_type(headings: Sequence[str]) -> str | None:
    """The record type whose headings the sheet uses most; None on a tie or no match."""
    keys = {heading_key(h) for h in headings}
    scores = {
        record_type: sum(
            1 for column in columns if column.path[0] != "@" and keys & _column_keys(column)
        )
        for record_type, columns in COLUMNS.items()
    }
    best = max(scores.values())
    winners = [t for t, score in scores.items() if score == best]
    return winners[0] if best and len(winners) == 1 else None


def _column_keys(column: Column) -> set[str]:
    return {heading_key(h) for h in column.headings} | {heading_key(column.path.lstrip("@"))}


def resolve_columns(
    headings: Sequence[str], record_type: str, mapping: ImportMapping
) -> tuple[dict[int, Column], list[str]]:
    """Which field each heading fills, by the mapping file first, then the built-in table."""
    by_path = {c.path: c for c in COLUMNS[record_type]}
    mapped = {heading_key(k): v for k, v in mapping.columns.items()}
    if mapping.key:
        mapped[heading_key(mapping.key)] = "@id"
    resolved: dict[int, Column] = {}
    ignored: list[str] = []
    taken: set[str] = set()
    for index, heading in enumerate(headings):
        if not heading:
            continue
        key = heading_key(heading)
        path = mapped.get(key)
        column = by_path.get(path) if path is not None else None
        if column is None:
            column = next((c for c in COLUMNS[record_type] if key in _column_keys(c)), None)
        if column is None or column.path in taken:
            ignored.append(heading)
            continue
        extra = mapping.labels.get(column.path.lstrip("@"))
        if extra:
            column = Column(column.path, column.kind, column.headings, {**column.labels, **extra})
        taken.add(column.path)
        resolved[index] = column
    return resolved, ignored


def _place(target: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


def _normalised(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def row_key(record_type: str, values: Mapping[str, str]) -> str:
    """The text a row's record id is made from (see the module's docstring)."""
    if values.get("@id"):
        return "id:" + _normalised(values["@id"])
    for fields in NATURAL_KEYS[record_type]:
        if values.get(fields[0]):
            parts = (_normalised(str(values.get(name, ""))) for name in fields)
            return f"{fields[0]}:" + "|".join(parts)
    return ""


def record_id_for(*, publisher: str, record_type: str, key: str) -> str:
    return str(uuid.uuid5(ROW_NAMESPACE, f"{publisher}\n{record_type}\n{key}"))


def build_envelope(
    *,
    record_id: str,
    record_type: str,
    publisher: str,
    version: int,
    issued_at: str,
    payload: Mapping[str, Any],
    settings: Mapping[str, Any],
) -> dict[str, Any]:
    """A version of a row's record; ``settings`` holds the row's envelope-level values."""
    issued_day = date.fromisoformat(issued_at[:10])
    try:
        retention = issued_day.replace(year=issued_day.year + RETENTION_YEARS)
    except ValueError:
        # 29 February, in a year that has none: the day before.
        retention = date(issued_day.year + RETENTION_YEARS, 2, 28)
    envelope = {
        "id": record_id,
        "type": record_type,
        "schema": SCHEMA_NAMES[record_type],
        "version": version,
        "status": "active",
        "publisher": publisher,
        "issued_at": issued_at,
        "handling": {
            "audience": settings.get("audience"),
            "restrictions": list(settings.get("restrictions", [])),
            "legal_basis": list(settings.get("legal_basis") or DEFAULT_LEGAL_BASIS[record_type]),
            "retention_until": settings.get("retention_until") or retention.isoformat(),
        },
        "evaluation": settings.get("evaluation"),
        "payload": dict(payload),
    }
    if envelope["evaluation"] is None:
        # Left out, so that the schema says it is missing rather than null.
        del envelope["evaluation"]
    return envelope


@dataclass(frozen=True)
class StoredVersion:
    """What the exchange holds as a record's current version, as far as an import cares."""

    version: int
    status: str
    payload: Mapping[str, Any]


def next_version(row: ImportRow, stored: StoredVersion | None) -> tuple[str, int | None]:
    """What a row does to its record: ("created", 1), ("amended", n+1), or ("unchanged",
    None) and ("withdrawn", None) for rows that publish nothing. Payloads compare as RFC 8785
    bytes; a withdrawal is the publisher's decision, which a spreadsheet row does not undo."""
    if stored is None:
        return "created", 1
    if canonicalize(stored.payload) == canonicalize(row.payload):
        return "unchanged", None
    if stored.status == "withdrawn":
        return "withdrawn", None
    return "amended", stored.version + 1


def now_timestamp() -> str:
    return datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pointer_path(pointer: str) -> str:
    """ "/payload/address/prefecture" → "address.prefecture"; "/evaluation/source" →
    "@evaluation"; list indices dropped."""
    parts = [p for p in pointer.strip("/").split("/") if p and not p.isdigit()]
    if parts and parts[0] == "payload":
        return ".".join(parts[1:])
    envelope_fields = {"evaluation": "@evaluation", "handling": "@legal_basis"}
    if parts[:2] == ["handling", "retention_until"]:
        return "@retention_until"
    return envelope_fields.get(parts[0], "@" + parts[0]) if parts else ""


def _problem_column(path: str, present: Mapping[str, tuple[int, str]]) -> tuple[int, str] | None:
    """The sheet's column for a field path, or for the nearest field it holds or is in."""
    if path in present:
        return present[path]
    inside = sorted(p for p in present if p.startswith(path + ".") or path.startswith(p + "."))
    if inside:
        return present[inside[0]]
    return None


def _heading_for(path: str, record_type: str) -> str:
    column = next((c for c in COLUMNS[record_type] if c.path == path), None)
    return column.headings[0] if column is not None else path


def plan_import(
    table: Table,
    *,
    publisher: str,
    record_type: str | None = None,
    mapping: ImportMapping | None = None,
    issued_at: str | None = None,
) -> ImportPlan:
    """Read every row of ``table`` into an envelope and check it; nothing leaves here."""
    mapping = mapping or ImportMapping()
    chosen = record_type or mapping.record_type or guess_record_type(table.headings)
    if chosen is None:
        raise UnreadableFile(
            f"{table.source}: cannot tell the record type from its headings; give --type."
        )
    resolved, ignored = resolve_columns(table.headings, chosen, mapping)
    present = {column.path: (index, table.headings[index]) for index, column in resolved.items()}
    issued_at = issued_at or now_timestamp()
    rows: list[ImportRow] = []
    problems: list[Problem] = []
    first_row_of: dict[str, int] = {}
    for number, cells in table.rows:
        texts = {column.path: cells[index] for index, column in resolved.items()}
        payload: dict[str, Any] = {}
        settings: dict[str, Any] = dict(mapping.defaults)
        for index, column in resolved.items():
            text = cells[index]
            if not text:
                continue
            value = cell_value(column, text)
            if column.path.startswith("@"):
                settings[column.path[1:]] = value
            else:
                _place(payload, column.path, value)
        if isinstance(settings.get("evaluation"), str):
            settings["evaluation"] = cell_value(
                Column("@evaluation", "evaluation", ()), settings["evaluation"]
            )
        key = row_key(chosen, texts)
        record_id = record_id_for(publisher=publisher, record_type=chosen, key=key)
        envelope = build_envelope(
            record_id=record_id,
            record_type=chosen,
            publisher=publisher,
            version=1,
            issued_at=issued_at,
            payload=payload,
            settings=settings,
        )
        row_problems = _check(envelope, number, chosen, present, cells)
        if key and key in first_row_of:
            where = present.get("@id") or _problem_column(NATURAL_KEYS[chosen][0][0], present)
            heading = where[1] if where else ""
            value = cells[where[0]] if where else ""
            row_problems.append(
                Problem(number, heading, value, f"The same record as row {first_row_of[key]}.")
            )
        first_row_of.setdefault(key, number)
        problems.extend(row_problems)
        if not row_problems:
            rows.append(ImportRow(number, record_id, payload, envelope))
    return ImportPlan(
        source=table.source,
        encoding=table.encoding,
        record_type=chosen,
        publisher=publisher,
        columns={heading: path for path, (_, heading) in present.items()},
        ignored=ignored,
        rows=rows,
        problems=problems,
        row_count=len(table.rows),
    )


def _check(
    envelope: Mapping[str, Any],
    number: int,
    record_type: str,
    present: Mapping[str, tuple[int, str]],
    cells: Sequence[str],
) -> list[Problem]:
    try:
        validate_envelope(envelope)
    except SchemaInvalid as invalid:
        found = []
        for error in invalid.errors:
            path = _pointer_path(error.pointer)
            message = error.detail
            if path == "@evaluation" and envelope.get("evaluation") is not None:
                message = "Not an evaluation such as B2 (source A/B/C/X, information 1-4)."
            where = _problem_column(path, present)
            if where is None:
                found.append(Problem(number, _heading_for(path, record_type), "", message))
            else:
                found.append(Problem(number, where[1], cells[where[0]], message))
        return _unique(found)
    return []


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    return [p for p in problems if not (p in seen or seen.add(p))]  # type: ignore[func-returns-value]
