"""Running push delivery: in-process beside the server, or as ``exchange worker``.

On PostgreSQL any number of workers share the work (a subscription's row is locked while
a batch of it is delivered) and wake on ``NOTIFY exchange_feed``; on SQLite one process
delivers, under a lock on a file beside the database, and the others stand by.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import IO

import psycopg
from flask import Flask

from exchange.database import libpq_url, try_file_lock
from exchange.extensions import db
from exchange.feeds.delivery import PushSettings, PushWorker
from exchange.feeds.signal import announce_feed, feed_generation, wait_for_feed
from exchange.pki.vault import load_vault

log = logging.getLogger(__name__)

# How often an idle delivery thread looks again: retries fall due with no announcement.
IDLE_SECONDS = 0.25
LOCK_RETRY_SECONDS = 2.0


def build_worker(app: Flask) -> PushWorker:
    return PushWorker(
        vault=load_vault(app),
        settings=PushSettings.from_config(app.config),
        ca_file=app.config.get("EXCHANGE_PUSH_CA_FILE"),
        reload=lambda: load_vault(app),
    )


def _deliver_until(app: Flask, worker: PushWorker, stop: threading.Event) -> None:
    with app.app_context():
        while not stop.is_set():
            generation = feed_generation()
            try:
                if worker.deliver_one():
                    continue
            except Exception:
                log.exception("push delivery failed; trying again")
                stop.wait(1.0)
                continue
            wait_for_feed(generation, IDLE_SECONDS)


def _listen(app: Flask, stop: threading.Event) -> None:
    """Carry PostgreSQL's feed notifications to this process's delivery threads."""
    with app.app_context():
        url = libpq_url(db.engine)
    while not stop.is_set():
        try:
            with psycopg.connect(url, autocommit=True) as connection:
                connection.execute("LISTEN exchange_feed")
                while not stop.is_set():
                    for _ in connection.notifies(timeout=1.0, stop_after=1):
                        announce_feed()
        except psycopg.Error:
            log.exception("feed notifications lost; reconnecting")
            stop.wait(LOCK_RETRY_SECONDS)


def run_push(app: Flask, *, stop: threading.Event, threads: int) -> None:
    """Deliver until ``stop`` is set."""
    with app.app_context():
        postgres = db.engine.dialect.name == "postgresql"
    lock: IO[bytes] | None = None
    while not postgres and lock is None:
        lock = try_file_lock(Path(app.instance_path) / "push.lock")
        if lock is None and stop.wait(LOCK_RETRY_SECONDS):
            return
    worker = build_worker(app)
    helpers: list[threading.Thread] = []
    if postgres:
        helpers.append(threading.Thread(target=_listen, args=(app, stop), daemon=True))
    helpers += [
        threading.Thread(target=_deliver_until, args=(app, worker, stop), daemon=True)
        for _ in range(max(1, threads))
    ]
    for thread in helpers:
        thread.start()
    try:
        stop.wait()
    finally:
        announce_feed()
        for thread in helpers:
            thread.join(timeout=15)
        if lock is not None:
            lock.close()


class PushThread:
    """The in-process push delivery of the embedded default."""

    def __init__(self, app: Flask) -> None:
        self._stop = threading.Event()
        threads = int(app.config["EXCHANGE_PUSH_THREADS"])
        self._thread = threading.Thread(
            target=run_push,
            args=(app,),
            kwargs={"stop": self._stop, "threads": threads},
            name="exchange-push",
            daemon=True,
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 20.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
