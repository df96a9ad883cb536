"""The operations listener: ``/healthz``, ``/readyz`` and ``/metrics`` on a port of its own.

Loopback and plain HTTP by default, or TLS with the exchange's server certificate. What
reads the database (readiness, the database gauges) does so in a short read-only
transaction and is then audited as one entry (``ops.ready``, ``ops.scrape``) in a
transaction of its own; if that entry cannot be written, what was read is not answered.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from flask import Flask
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import Metric
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Request, Response

from exchange.auth.actor import Actor
from exchange.clock import utcnow, uuid7
from exchange.database import READ_ONLY
from exchange.extensions import db
from exchange.ops.gauges import database_families, database_up
from exchange.ops.metrics import exposition
from exchange.ops.readiness import Readiness, check_readiness
from exchange.pki.vault import load_vault
from exchange.serving import ExchangeTLSAdapter, ExchangeWSGIServer, Listener
from exchange.trail.entries import entry_bytes, insert_entry
from exchange.trail.integrator_process import wake_integrator

log = logging.getLogger(__name__)


@dataclass
class OpsApplication:
    """The operations endpoints, as a WSGI application outside the exchange's own.

    ``database_gauges``: whether ``/metrics`` reads the database (the servers' listener
    does; an integrator's or a worker's shows its own process only, so that the one
    database is read once per scrape). ``summed``: the folder of the server processes'
    metric files, when several serve. ``alive``: whether the processes it speaks for run.
    """

    app: Flask
    database_gauges: bool = True
    summed: Path | None = None
    alive: Callable[[], bool] = field(default=lambda: True)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        if request.method not in ("GET", "HEAD"):
            response = Response("method not allowed\n", status=405, headers={"Allow": "GET"})
        elif request.path == "/healthz":
            response = self.health()
        elif request.path == "/readyz":
            response = self.readiness(request)
        elif request.path == "/metrics":
            response = self.metrics(request)
        else:
            response = Response("not found\n", status=404, mimetype="text/plain")
        response.headers["Cache-Control"] = "no-store"
        return response(environ, start_response)

    def health(self) -> Response:
        if not self.alive():
            return Response("a server process has stopped\n", status=503, mimetype="text/plain")
        return Response("ok\n", mimetype="text/plain")

    def readiness(self, request: Request) -> Response:
        readiness = Readiness()
        with self.app.app_context():
            try:
                with _read_only() as connection:
                    readiness = check_readiness(self.app, connection, utcnow())
            except SQLAlchemyError as error:
                log.warning("readiness: the database does not answer: %s", type(error).__name__)
                readiness.record("database", False, error=type(error).__name__)
            else:
                status = 200 if readiness.ready else 503
                audited = self._audit(request, "ops.ready", status, {"failed": readiness.failed})
                readiness.record("audit", audited)
        return Response(
            orjson.dumps(readiness.document()),
            status=200 if readiness.ready else 503,
            mimetype="application/json",
        )

    def metrics(self, request: Request) -> Response:
        families: list[Metric] = []
        if self.database_gauges:
            with self.app.app_context():
                try:
                    with _read_only() as connection:
                        families = database_families(
                            connection, utcnow(), keys=load_vault(self.app).directory
                        )
                except SQLAlchemyError as error:
                    log.warning("metrics: the database does not answer: %s", type(error).__name__)
                    families = [database_up(False)]
                else:
                    if not self._audit(request, "ops.scrape", 200, {}):
                        return Response(
                            "the scrape could not be audited\n", status=503, mimetype="text/plain"
                        )
        return Response(exposition(families, summed=self.summed), mimetype=CONTENT_TYPE_LATEST)

    def _audit(self, request: Request, action: str, status: int, details: dict[str, Any]) -> bool:
        """The read's entry, in a transaction of its own; False if it could not be written."""
        entry_id = uuid7()
        canonical = entry_bytes(
            entry_id=entry_id,
            recorded_at=utcnow(),
            actor=Actor(kind="anonymous", address=request.remote_addr),
            action=action,
            status=status,
            details={k: v for k, v in details.items() if v},
            method=request.method,
            path=request.path,
        )
        try:
            with db.engine.connect() as connection:
                insert_entry(connection, entry_id=entry_id, canonical=canonical)
                connection.commit()
        except SQLAlchemyError:
            log.exception("the %s entry could not be written", action)
            return False
        wake_integrator()
        return True


def _read_only() -> Any:
    connection = db.engine.connect()
    # Set before the first statement, which begins the transaction (exchange.database).
    connection.execution_options(**{READ_ONLY: True})
    return connection


def start_ops_listener(
    app: Flask,
    *,
    host: str | None = None,
    port: int | None = None,
    database_gauges: bool = True,
    summed: Path | None = None,
    alive: Callable[[], bool] = lambda: True,
) -> Listener:
    """Serve the operations endpoints in threads of their own; returns once listening."""
    config = app.config
    bind_address = (
        host or config["EXCHANGE_OPS_HOST"],
        config["EXCHANGE_OPS_PORT"] if port is None else port,
    )
    server = ExchangeWSGIServer(
        bind_address,
        OpsApplication(app, database_gauges=database_gauges, summed=summed, alive=alive),
        numthreads=2,
        server_name=config["EXCHANGE_NAME"],
        timeout=10,
    )
    if config["EXCHANGE_OPS_TLS"]:
        server.ssl_adapter = ExchangeTLSAdapter(
            load_vault(app),
            listener="ops",
            require_client_certificate=False,
            reload=lambda: load_vault(app),
        )
    server.prepare()
    thread = threading.Thread(target=server.serve, name="exchange-ops", daemon=True)
    thread.start()
    return Listener(name="ops", server=server, thread=thread)
