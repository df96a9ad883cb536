"""How many requests run the application at once, in one server process.

A process runs Python on one core at a time (the GIL), so requests beyond a few do not
finish sooner: they take turns with each other, and the one holding the database
connection waits for its turns too, which holds everyone else up. With eight clients
sending batches to a two-core machine, four requests at a time served about an eighth
more records per second than sixteen at a time; single-record publishes came out about a
twentieth slower. So the server admits a few requests into the application and queues
the rest. A request reads its body before it takes a turn, so that a slow sender holds
none, and a long poll gives its turn back while it waits.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import request

ENVIRON_KEY = "exchange.admission"

WSGIApplication = Callable[[dict[str, Any], Any], Iterable[bytes]]


class Admission:
    """A WSGI wrapper that lets at most ``slots`` requests into ``application`` at once."""

    def __init__(self, application: WSGIApplication, *, slots: int, max_body: int | None) -> None:
        if slots < 1:
            raise ValueError("at least one request must be let in")
        self.application = application
        self.max_body = max_body
        self._turns = threading.BoundedSemaphore(slots)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        _read_body(environ, self.max_body)
        environ[ENVIRON_KEY] = self
        with self._turns:
            # The application has done its work, audit entry and commit included, when it
            # returns; a streamed body is sent after the turn is given back.
            return self.application(environ, start_response)

    @contextmanager
    def stepped_aside(self) -> Iterator[None]:
        """Give the current request's turn to another while the block waits."""
        self._turns.release()
        try:
            yield
        finally:
            self._turns.acquire()


def _read_body(environ: dict[str, Any], max_body: int | None) -> None:
    """Read a declared body now, into memory, for the application to read from there.

    Bodies without a length (chunked) or over the limit are left on the socket: the
    application refuses or reads them itself. A body cut short keeps what arrived, and
    the application sees it end early, as it would have on the socket.
    """
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    if length <= 0 or (max_body is not None and length > max_body):
        return
    stream = environ["wsgi.input"]
    received = bytearray()
    try:
        while len(received) < length:
            chunk = stream.read(length - len(received))
            if not chunk:
                break
            received += chunk
    except OSError:
        pass
    environ["wsgi.input"] = io.BytesIO(bytes(received))


@contextmanager
def waiting_aside() -> Iterator[None]:
    """For a request that waits on time or another request: let others run meanwhile."""
    admission: Admission | None = request.environ.get(ENVIRON_KEY)
    if admission is None:
        yield
        return
    with admission.stepped_aside():
        yield
