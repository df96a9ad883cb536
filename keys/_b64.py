"""Base64url without padding, the encoding of every JOSE member (RFC 7515 §2, RFC 4648 §5)."""

import base64
import re

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url, raising ValueError for anything but the canonical form.

    The standard library's decoder skips stray characters and ignores the unused low bits of
    the last character; a strict decoder keeps one value from having many encodings.
    """
    if len(text) % 4 == 1 or not _BASE64URL.fullmatch(text):
        raise ValueError("not unpadded base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url_encode(data) != text:
        raise ValueError("non-canonical base64url")
    return data
