"""How many pulls of one server process may wait at once for new events.

A waiting pull holds a server thread. Past this many, a pull answers at once with what
there is, and ``Retry-After`` says when to ask again: the threads that publishes, reads
and the web pages need are never all taken by followers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask

RETRY_AFTER_SECONDS = 1
_EXTENSION = "exchange.waiting_pulls"
_lock = threading.Lock()


class WaitingPulls:
    def __init__(self, slots: int) -> None:
        self._slots = threading.BoundedSemaphore(slots)

    @contextmanager
    def slot(self) -> Iterator[bool]:
        """True while this pull may wait; False if every slot is taken."""
        taken = self._slots.acquire(blocking=False)
        try:
            yield taken
        finally:
            if taken:
                self._slots.release()


def waiting_pulls(app: Flask) -> WaitingPulls:
    with _lock:
        pulls: WaitingPulls | None = app.extensions.get(_EXTENSION)
        if pulls is None:
            slots = app.config.get("EXCHANGE_WAITING_PULLS") or max(
                1, int(app.config["EXCHANGE_SERVER_THREADS"]) // 2
            )
            pulls = app.extensions[_EXTENSION] = WaitingPulls(int(slots))
        return pulls
