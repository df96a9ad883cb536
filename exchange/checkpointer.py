"""SQLite's WAL copied back into the database file by a thread of its own.

In WAL mode a commit appends the pages it changed to the log, and by default the commit
that takes the log past 1,000 pages also copies the log into the database file and
syncs it to disk (a checkpoint), with the connection held. A publish changes pages
across many indexes (its tags, short grams, trigrams and audit entry each land on a
page of their own), so with the process's one pooled connection every such commit
made every other request wait for the disk. Here a thread with a connection of its own
checkpoints the log in the background (``PASSIVE``: it copies what no reader still
needs and never blocks a writer). Commits still checkpoint by themselves if the log
reaches ``FALLBACK_PAGES``, so the log stays bounded if this thread stalls.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 0.25
# The log size at which a commit checkpoints by itself (pages of 4 KiB: 64 MiB).
FALLBACK_PAGES = 16_384


class WalCheckpointer:
    """Checkpoints ``database`` every ``interval`` seconds until stopped."""

    def __init__(self, database: str, *, interval: float = INTERVAL_SECONDS) -> None:
        self._database = database
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="exchange-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        connection = sqlite3.connect(self._database, timeout=0, isolation_level=None)
        try:
            while not self._stop.wait(self._interval):
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error as error:
                    # The file unreadable, say: commits still checkpoint past the
                    # fallback, and the next turn tries again. (A checkpoint already
                    # running in another process is no error: PASSIVE reports it busy.)
                    log.warning("WAL checkpoint failed: %s", error)
        finally:
            connection.close()
