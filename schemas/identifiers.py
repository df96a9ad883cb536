"""Validators of the identifiers records carry: pure functions, no I/O.

Each ``is_*`` function answers for the exact string given; none of them normalises (a
signed record is checked as it was signed). Only :func:`residence_card_token` normalises,
because officers type card numbers in every shape the card can be read.
"""

from __future__ import annotations

import base64
import hmac
import re
import unicodedata

from schemas.countries import COUNTRY_CODES

# re.ASCII throughout: in a str pattern \d would also match full-width and other Unicode
# digits ("１２３"), which no registry issues.
_DIGITS_12 = re.compile(r"[0-9]{12}")
_DIGITS_13 = re.compile(r"[0-9]{13}")
_DIGITS_5 = re.compile(r"[0-9]{5}")
_DIGITS_6 = re.compile(r"[0-9]{6}")
_SUPERVISING_LICENCE = re.compile(r"許[0-9]{10}")
_AGENCY_ID = re.compile(r"[a-z][a-z0-9-]{1,31}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NIL_UUID = "00000000-0000-0000-0000-000000000000"

SUPERVISING_LICENCE_PATTERN = r"^許\d{10}$"
AGENCY_ID_PATTERN = r"^[a-z][a-z0-9-]{1,31}$"
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
RESIDENCE_CARD_PATTERN = r"^[A-Z]{2}\d{8}[A-Z]{2}$"
RESIDENCE_CARD_TOKEN_PATTERN = r"^rct1_[A-Za-z0-9_-]{43}$"  # noqa: S105 - not a secret
RESIDENCE_CARD_TOKEN_PREFIX = "rct1_"  # noqa: S105 - not a secret

# fullmatch, never match with "$": "$" also matches before a trailing newline.
_RESIDENCE_CARD = re.compile(RESIDENCE_CARD_PATTERN[1:-1], re.ASCII)
_RESIDENCE_CARD_TOKEN = re.compile(RESIDENCE_CARD_TOKEN_PATTERN[1:-1], re.ASCII)
# 32 bytes in unpadded base64url leave two spare bits in the last character; only the
# characters whose spare bits are zero are canonical, so one card has one token.
_TOKEN_LAST_CHARACTERS = frozenset("AEIMQUYcgkosw048")
# Separators people type between the groups of a card number, after NFKC folding.
_CARD_SEPARATORS = frozenset(" -\u2010\u2011\u2012\u2013\u2014\u2212")
# RFC 2104 §3: keys shorter than the hash output (32 bytes for SHA-256) weaken the MAC.
MATCHING_KEY_MIN_BYTES = 32


def corporate_number_check_digit(body12: str) -> int:
    """The check digit (the first digit) of a corporate number (法人番号).

    National Tax Agency rule: check = 9 − (Σ Pn·Qn mod 9), where Pn is the n-th of the
    twelve digits counted from the right and Qn is 1 for odd n, 2 for even n.
    """
    if not _DIGITS_12.fullmatch(body12):
        raise ValueError("a corporate number body is twelve ASCII digits")
    total = sum(
        int(digit) * (2 if n % 2 == 0 else 1) for n, digit in enumerate(reversed(body12), 1)
    )
    return 9 - total % 9


def is_corporate_number(value: str) -> bool:
    """Thirteen ASCII digits whose first digit is the check digit of the other twelve."""
    return bool(_DIGITS_13.fullmatch(value)) and int(value[0]) == corporate_number_check_digit(
        value[1:]
    )


def is_supervising_licence(value: str) -> bool:
    """A supervising-organisation (監理団体) licence number: 許 and ten ASCII digits."""
    return bool(_SUPERVISING_LICENCE.fullmatch(value))


def is_prefecture_code(value: str) -> bool:
    """A JIS X 0401 prefecture code, "01" (Hokkaido) to "47" (Okinawa)."""
    return len(value) == 2 and value.isascii() and value.isdigit() and 1 <= int(value) <= 47


def municipality_check_digit(body5: str) -> int:
    """The check digit of a JIS X 0402 local government code.

    Weights 6, 5, 4, 3, 2 over the five digits; check = (11 − Σ mod 11) mod 10.
    """
    if not _DIGITS_5.fullmatch(body5):
        raise ValueError("a municipality code body is five ASCII digits")
    total = sum(int(digit) * weight for digit, weight in zip(body5, (6, 5, 4, 3, 2), strict=True))
    return (11 - total % 11) % 10


def is_municipality_code(value: str) -> bool:
    """A six-digit JIS X 0402 municipality code with a valid prefecture and check digit.

    The code of the prefecture itself ("130001", municipality part 000) names no
    municipality and is refused.
    """
    return (
        bool(_DIGITS_6.fullmatch(value))
        and is_prefecture_code(value[:2])
        and value[2:5] != "000"
        and int(value[5]) == municipality_check_digit(value[:5])
    )


def is_country_code(value: str) -> bool:
    """An officially assigned ISO 3166-1 alpha-2 code (upper case; "GB", not "UK")."""
    return value in COUNTRY_CODES


def is_agency_id(value: str) -> bool:
    """An agency id of the exchange's directory, e.g. "isa" or "ibaraki-pp"."""
    return bool(_AGENCY_ID.fullmatch(value))


def is_record_id(value: str) -> bool:
    """A UUID (any version) in lower-case canonical form, not the nil UUID.

    One spelling per id keeps idempotency keys and links comparable byte for byte.
    """
    return bool(_UUID.fullmatch(value)) and value != NIL_UUID


def is_residence_card_number(value: str) -> bool:
    """A residence card (在留カード) number exactly as printed: AB12345678CD.

    The number carries no checksum, so the shape is all that can be checked.
    """
    return bool(_RESIDENCE_CARD.fullmatch(value))


def normalise_residence_card_number(number: str) -> str:
    """Fold a typed card number to its printed form, or raise ValueError.

    NFKC turns full-width letters and digits into ASCII; spaces and hyphens between the
    groups are dropped; letters are upper-cased.
    """
    folded = unicodedata.normalize("NFKC", number)
    compact = "".join(ch for ch in folded if ch not in _CARD_SEPARATORS and not ch.isspace())
    candidate = compact.upper()
    if not is_residence_card_number(candidate):
        raise ValueError("not a residence card number")
    return candidate


def residence_card_token(number: str, *, key: bytes) -> str:
    """The matching token of a residence card number under the exchange's matching key.

    "rct1_" + unpadded base64url (RFC 4648 §5) of HMAC-SHA256 (RFC 2104) over the
    normalised number. Records carry the token, never the number: two agencies that saw
    the same card produce the same token, and nobody without the key can reverse it.
    """
    if len(key) < MATCHING_KEY_MIN_BYTES:
        raise ValueError(f"the matching key must be at least {MATCHING_KEY_MIN_BYTES} bytes")
    digest = hmac.digest(key, normalise_residence_card_number(number).encode("ascii"), "sha256")
    encoded = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return RESIDENCE_CARD_TOKEN_PREFIX + encoded


def is_residence_card_token(value: str) -> bool:
    """A token as :func:`residence_card_token` makes it: "rct1_" and 43 base64url characters."""
    return bool(_RESIDENCE_CARD_TOKEN.fullmatch(value)) and value[-1] in _TOKEN_LAST_CHARACTERS


def looks_like_residence_card_number(value: str) -> bool:
    """True when ``value`` is a raw card number in any typed shape (so it can be refused)."""
    try:
        normalise_residence_card_number(value)
    except ValueError:
        return False
    return True
