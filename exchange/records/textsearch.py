"""Free text over records' names and aliases, answered from an index on either database.

A query is folded as names are (``normalize.fold``) and split at whitespace into words; a
record matches when **every word** is a substring of one of its folded names ("cong ty"
finds "Công ty TNHH …", and so does "ty cong"). Words reach the database only as bound
values: as an FTS5 string (double-quoted, quotes doubled: never FTS5 syntax) or as a
``LIKE`` pattern with ``%``, ``_`` and ``\\`` escaped.

Which index answers which word:

- **3 characters or more** — a trigram index. SQLite: ``record_fts``, an FTS5 table with
  ``tokenize='trigram'`` (FTS5 §4.3.4) over ``record.names`` (external content, kept in
  step by triggers on ``record``). PostgreSQL: pg_trgm's GIN index over ``record.trigram_names``,
  a generated column holding the names with every non-ASCII character spelt as three
  ASCII letters or digits (``trigram_text``). pg_trgm builds trigrams only from what the
  database's ``LC_CTYPE`` calls alphanumeric: under the C locale ``show_trgm('東京銀行')``
  is empty and ``công`` splits into ``c`` and ``ng``, so an index on the names themselves
  would scan everything for a Japanese query. Spelt in ASCII, every character counts
  under every locale. The spelling is not one-to-one, so a non-ASCII word is checked
  against ``names`` too.
- **1 or 2 characters, with a non-ASCII character** — ``record_gram``: every distinct
  non-ASCII character and every two-character substring holding one, per word of the
  names (``short_grams``). A trigram index has no trigram to look up for 東京 or 銀行.
  The table's key (gram, record_pk) hands out matches newest first, so a page of 50 stops
  after 50 index entries however common the gram is.
- **1 or 2 ASCII characters** — a scan of ``record.names`` newest first. There are only
  1,296 ASCII letter-and-digit pairs, and Latin names are long, so any such pair is in a
  large share of records and the scan fills a page early; indexing them would multiply
  the gram table several times over for queries that say little.

A page is ordered by record key, newest first. One word drives (the trigram match, else a
gram); the others are checked on the rows it yields. FTS5 and ``record_gram`` yield
matches in key order, so a page stops after 50 of them; pg_trgm's bitmap does not, and
``reading.search_records`` first filters the newest records by key (``scan_conditions``)
before it asks the index for older ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, Text, bindparam, column, literal_column, table
from sqlalchemy.sql import ColumnElement, FromClause

from exchange.records.models import Record, RecordGram
from exchange.records.normalize import fold

# Shorter words have no trigram.
TRIGRAM = 3
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_SPELLING = len(_DIGITS) ** 3

_record = Record.__table__
_gram = RecordGram.__table__
record_fts = table("record_fts", column("rowid", Integer))
_trigram_names = literal_column("record.trigram_names", Text)
_unindexed_trigram_names = literal_column("(record.trigram_names || '')", Text)


def words(query: str) -> list[str]:
    """The distinct words of a folded query, in order."""
    return list(dict.fromkeys(fold(query).split()))


def folded_names(names: Iterable[str]) -> str:
    """The ``record.names`` column: each name folded, once, one per line."""
    return "\n".join(dict.fromkeys(folded for folded in map(fold, names) if folded))


def short_grams(names: str) -> list[str]:
    """The ``record_gram`` rows of folded names: non-ASCII characters, and character pairs
    holding one, within a word (a query word never spans whitespace)."""
    grams: dict[str, None] = {}
    for word in names.split():
        if word.isascii():
            continue
        for index, character in enumerate(word):
            if not character.isascii():
                grams[character] = None
            pair = word[index : index + 2]
            if len(pair) == 2 and not pair.isascii():
                grams[pair] = None
    return list(grams)


def _spell(character: str) -> str:
    if character.isascii():
        return character
    code = ord(character) % _SPELLING
    return _DIGITS[code // 1296] + _DIGITS[code // 36 % 36] + _DIGITS[code % 36]


def trigram_text(text: str) -> str:
    """Text as ``exchange_trigram_text`` spells it in PostgreSQL: ASCII kept, every other
    character as three base-36 digits of its code point (modulo 36³)."""
    return "".join(map(_spell, text))


# The same spelling in SQL, for the generated column. IMMUTABLE: it depends on its
# argument only, as a generated column and an index require.
TRIGRAM_TEXT_FUNCTION = """
CREATE OR REPLACE FUNCTION exchange_trigram_text(names text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT coalesce(string_agg(
    CASE WHEN ascii(c) < 128 THEN c ELSE
        substr('0123456789abcdefghijklmnopqrstuvwxyz', ascii(c) % 46656 / 1296 + 1, 1)
        || substr('0123456789abcdefghijklmnopqrstuvwxyz', ascii(c) / 36 % 36 + 1, 1)
        || substr('0123456789abcdefghijklmnopqrstuvwxyz', ascii(c) % 36 + 1, 1)
    END, '' ORDER BY n), '')
FROM unnest(string_to_array(names, NULL)) WITH ORDINALITY AS chars(c, n)
$$
"""


def like_pattern(text: str) -> str:
    """``%text%`` with LIKE's wildcards and escape character taken literally (ESCAPE '\\')."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def fts_phrase(word: str) -> str:
    """An FTS5 string (SQLite FTS5 §3.1): the word between double quotes, inner quotes doubled.

    Whatever the word holds (``NEAR(``, ``*``, ``OR``, ``:``), FTS5 reads it as one
    phrase; the trigram tokenizer makes that phrase a substring match.
    """
    return '"' + word.replace('"', '""') + '"'


@dataclass
class TextMatch:
    """How a page of matches is read: from ``source`` (joined to ``record``), ordered by
    ``key`` descending, with ``conditions``.

    ``in_key_order``: the index yields matches newest first, so a page stops early. pg_trgm's
    GIN index does not: it yields every match, to be sorted. ``scan_conditions`` are then
    the same tests written so that no index can answer them, for filtering rows found
    another way.
    """

    source: FromClause
    key: ColumnElement[Any]
    conditions: list[ColumnElement[Any]] = field(default_factory=list)
    in_key_order: bool = True
    scan_conditions: list[ColumnElement[Any]] = field(default_factory=list)


def _names_like(word: str) -> ColumnElement[bool]:
    condition: ColumnElement[bool] = _record.c.names.like(
        bindparam(None, like_pattern(word)), escape="\\"
    )
    return condition


def text_match(query: str, dialect: str) -> TextMatch | None:
    """The index access and checks for a free-text query; None when it holds no word."""
    found = words(query)
    if not found:
        return None
    long = [w for w in found if len(w) >= TRIGRAM]
    short = [w for w in found if len(w) < TRIGRAM]
    if long:
        match = _trigram_match(long, dialect)
        match.conditions += [_names_like(w) for w in short]
        return match
    driver = next((w for w in short if not w.isascii()), None)
    if driver is None:
        return TextMatch(_record, _record.c.pk, [_names_like(w) for w in short])
    source = _gram.join(_record, _record.c.pk == _gram.c.record_pk)
    conditions: list[ColumnElement[Any]] = [_gram.c.gram == bindparam(None, driver)]
    conditions += [_names_like(w) for w in short if w != driver]
    return TextMatch(source, _gram.c.record_pk, conditions)


def _trigram_match(long: list[str], dialect: str) -> TextMatch:
    if dialect == "sqlite":
        source = record_fts.join(_record, _record.c.pk == record_fts.c.rowid)
        expression = " ".join(fts_phrase(w) for w in long)
        matches = literal_column("record_fts").op("MATCH")(bindparam(None, expression))
        # Ordered by the FTS5 rowid, FTS5 yields matches newest first and the page stops
        # early; ordered by record.pk, SQLite would collect and sort every match.
        return TextMatch(source, record_fts.c.rowid, [matches])
    conditions: list[ColumnElement[Any]] = []
    scan_conditions: list[ColumnElement[Any]] = []
    for word in long:
        pattern = like_pattern(trigram_text(word))
        conditions.append(_trigram_names.like(bindparam(None, pattern), escape="\\"))
        # An expression the GIN index is not built on: the planner cannot choose it.
        scan_conditions.append(_unindexed_trigram_names.like(bindparam(None, pattern), escape="\\"))
        if not word.isascii():
            conditions.append(_names_like(word))
            scan_conditions.append(_names_like(word))
    return TextMatch(
        _record, _record.c.pk, conditions, in_key_order=False, scan_conditions=scan_conditions
    )
