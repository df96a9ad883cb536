"""Folding text so that searches match however a name was typed."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """NFKC (full-width to ASCII, half-width kana to full) and case folding."""
    return unicodedata.normalize("NFKC", text).casefold().strip()
