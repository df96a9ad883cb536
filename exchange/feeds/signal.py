"""New feed positions, announced within the process: long polls and push workers wake.

Other processes learn of them from PostgreSQL's ``NOTIFY exchange_feed`` (sent by the
integrator in the transaction that adds them) or, on SQLite, by polling.
"""

from __future__ import annotations

import threading

_condition = threading.Condition()
_generation = 0


def announce_feed() -> None:
    global _generation
    with _condition:
        _generation += 1
        _condition.notify_all()


def feed_generation() -> int:
    with _condition:
        return _generation


def wait_for_feed(generation: int, timeout: float) -> bool:
    """Wait until positions were announced after ``generation``; False on timeout."""
    with _condition:
        return _condition.wait_for(lambda: _generation != generation, timeout=timeout)
