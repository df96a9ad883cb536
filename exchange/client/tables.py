"""Spreadsheets as agencies keep them: CSV in UTF-8, UTF-8 with a BOM or Shift_JIS, and .xlsx.

The encoding is decided by strict decoding in a fixed order, never guessed statistically: the
same file always reads the same way, and the importer says which encoding it used.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zipfile import BadZipFile

from openpyxl import load_workbook

from exchange.textfiles import UnreadableFile

# Tried in this order; ASCII text is also UTF-8, so it reads as UTF-8.
UTF8_BOM = "UTF-8 (BOM)"
UTF8 = "UTF-8"
CP932 = "Shift_JIS (cp932)"
XLSX = "xlsx"


@dataclass(frozen=True)
class Table:
    """A sheet's headings and its data rows, each with the row number a spreadsheet shows."""

    source: str
    encoding: str
    headings: tuple[str, ...]
    rows: tuple[tuple[int, tuple[str, ...]], ...]


def decode_csv_bytes(data: bytes, *, name: str) -> tuple[str, str]:
    """The text of a CSV file and the encoding it was read with."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="strict"), UTF8_BOM
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UnreadableFile(f"{name} is UTF-16 text; save it as UTF-8 or Shift_JIS CSV.")
    try:
        return data.decode("utf-8"), UTF8
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp932"), CP932
    except UnicodeDecodeError as error:
        raise UnreadableFile(
            f"{name} is neither UTF-8 nor Shift_JIS (cp932) text (at byte offset "
            f"{error.start}); save it as CSV UTF-8 and try again."
        ) from None


def _cell_text(value: object) -> str:
    """A cell as text: dates as YYYY-MM-DD, whole numbers without a decimal point."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _table(source: str, encoding: str, lines: list[list[str]], header_row: int) -> Table:
    if len(lines) < header_row:
        raise UnreadableFile(f"{source} has no heading row.")
    headings = tuple(cell.strip() for cell in lines[header_row - 1])
    rows = []
    for number, line in enumerate(lines[header_row:], start=header_row + 1):
        cells = tuple(cell.strip() for cell in line)
        if any(cells):
            rows.append((number, cells + ("",) * (len(headings) - len(cells))))
    return Table(source, encoding, headings, tuple(rows))


def read_csv_bytes(data: bytes, *, name: str, header_row: int = 1) -> Table:
    text, encoding = decode_csv_bytes(data, name=name)
    first = text.split("\n", 1)[0]
    # Excel's "Unicode text" is tab-separated; everything else agencies send uses commas.
    delimiter = "\t" if "\t" in first and "," not in first else ","
    try:
        lines = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as error:
        raise UnreadableFile(f"{name} is not valid CSV: {error}.") from None
    return _table(name, encoding, lines, header_row)


def read_xlsx_bytes(
    data: bytes, *, name: str, sheet: str | None = None, header_row: int = 1
) -> Table:
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (BadZipFile, KeyError, OSError, ValueError):
        raise UnreadableFile(f"{name} is not an Excel .xlsx workbook.") from None
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            raise UnreadableFile(f"{name} has no sheet named {sheet}.")
        worksheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
        lines = [[_cell_text(v) for v in row] for row in worksheet.iter_rows(values_only=True)]
    finally:
        workbook.close()
    return _table(name, XLSX, lines, header_row)


def read_table(data: bytes, *, name: str, sheet: str | None = None, header_row: int = 1) -> Table:
    """A CSV or .xlsx file's table; .xlsx is told by its ZIP signature, not only its name."""
    if name.lower().endswith(".xlsx") or data.startswith(b"PK\x03\x04"):
        return read_xlsx_bytes(data, name=name, sheet=sheet, header_row=header_row)
    return read_csv_bytes(data, name=name, header_row=header_row)


def read_table_file(path: Path, *, sheet: str | None = None, header_row: int = 1) -> Table:
    return read_table(path.read_bytes(), name=str(path), sheet=sheet, header_row=header_row)
