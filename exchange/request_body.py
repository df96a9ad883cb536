"""Request bodies: read whole before the application runs, refused past the limit.

A request holds its database connection from its first moment (exchange.unit_of_work), so
a slow sender must hold none: its body is read into memory first. A body over the limit,
declared by Content-Length or found while reading a chunked one, is refused with 413 by
the application (so the refusal is audited), and a 413 closes the connection: what
follows the limit on the socket is never read as another request.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

TOO_LARGE = "exchange.body_too_large"

WSGIApplication = Callable[[dict[str, Any], Any], Iterable[bytes]]

_READ_SIZE = 64 * 1024


class RequestBody:
    """A WSGI wrapper that hands ``application`` every body whole, up to ``max_body`` bytes."""

    def __init__(self, application: WSGIApplication, *, max_body: int) -> None:
        self.application = application
        self.max_body = max_body

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        stream = environ["wsgi.input"]
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        declared = environ.get("CONTENT_LENGTH") or ""
        if chunked:
            body = _read(stream, self.max_body + 1)
        elif declared.isdigit() and declared.isascii():
            length = int(declared)
            if length > self.max_body:
                # Answered at once, unread: a client that waits for an answer before it
                # sends its body (as with Expect: 100-continue) gets it.
                body = b""
                environ[TOO_LARGE] = True
            else:
                body = _read(stream, length)
        else:
            body = b""
        if len(body) > self.max_body:
            environ[TOO_LARGE] = True
            body = b""
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.application(environ, start_response)


def _read(stream: Any, size: int) -> bytes:
    """Up to ``size`` bytes; fewer if the sender stops or the body is malformed."""
    received = bytearray()
    try:
        while len(received) < size:
            chunk = stream.read(min(_READ_SIZE, size - len(received)))
            if not chunk:
                break
            received += chunk
    except (OSError, ValueError):
        pass
    return bytes(received)
