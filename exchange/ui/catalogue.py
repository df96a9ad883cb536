"""The Japanese message catalogue: extracted from the source, merged, compiled.

``python -m exchange.ui.catalogue [--check]`` (or ``scripts/translations``): extract every
message of the Python code and templates, update ``translations/ja/LC_MESSAGES/messages.po``
(new messages arrive untranslated, for a translator to fill in), and compile
``messages.mo``, which Flask-Babel reads. English is the source language.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent.parent
TRANSLATIONS = ROOT / "exchange" / "translations"
LOCALE = "ja"
CATALOGUE = TRANSLATIONS / LOCALE / "LC_MESSAGES" / "messages.po"
COMPILED = CATALOGUE.with_suffix(".mo")

_METHODS = [
    ("exchange/**.py", "python"),
    ("exchange/templates/**.html", "jinja2.ext:babel_extract"),
]
_KEYWORDS = {
    "_": None,
    "gettext": None,
    "_l": None,
    "lazy_gettext": None,
    "ngettext": (1, 2),
    "lazy_ngettext": (1, 2),
}


def extract() -> Catalog:
    """Every message the source asks to translate."""
    template = Catalog(project="exchange", domain="messages")
    found: Iterable[tuple[str, int, str | tuple[str, ...], list[str], str | None]] = (
        extract_from_dir(
            str(ROOT),
            method_map=_METHODS,
            keywords=_KEYWORDS,
            options_map={"exchange/templates/**.html": {"extensions": "jinja2.ext.i18n"}},
        )
    )
    for filename, lineno, message, comments, context in found:
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def _read(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=LOCALE)


def untranslated(catalog: Catalog) -> list[str]:
    missing = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings):
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    return missing


def update() -> Catalog:
    template = extract()
    catalog = (
        _read(CATALOGUE)
        if CATALOGUE.exists()
        else Catalog(
            locale=LOCALE,
            project="exchange",
            version="1",
            copyright_holder="the exchange's authors",
            fuzzy=False,
        )
    )
    catalog.update(template, no_fuzzy_matching=True)
    catalog.obsolete.clear()
    for message in catalog:
        message.flags.discard("fuzzy")
    return catalog


def compiled(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


def save(catalog: Catalog) -> None:
    CATALOGUE.parent.mkdir(parents=True, exist_ok=True)
    with CATALOGUE.open("wb") as handle:
        write_po(handle, catalog, width=100, omit_header=False, sort_output=True)
    COMPILED.write_bytes(compiled(_read(CATALOGUE)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exchange.ui.catalogue")
    parser.add_argument("--check", action="store_true", help="fail on untranslated messages")
    options = parser.parse_args(argv)
    catalog = update()
    save(catalog)
    missing = untranslated(catalog)
    print(f"{len(catalog)} messages, {len(missing)} without a Japanese translation")
    for message_id in missing:
        print(f"  untranslated: {message_id!r}")
    return 1 if options.check and missing else 0


if __name__ == "__main__":
    sys.exit(main())
