"""The access log and request metrics: one JSON line and one observation per request.

The application notes what only it knows (the URL rule, the actor, the audit entry's id)
in the WSGI environ as the request ends; a WSGI wrapper adds the status, the bytes it
sent and the time to the last byte. Never the path's values, the query string or a body.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import Flask, g, request

from exchange.ops.metrics import REQUEST_SECONDS, REQUESTS
from exchange.trail import recorder

log = logging.getLogger("exchange.access")

FACTS = "exchange.access"
UNMATCHED = "unmatched"

WSGIApplication = Callable[[dict[str, Any], Any], Iterable[bytes]]

# Each label set's counter and histogram, looked up once: prometheus_client's own lookup
# takes a lock and builds its key anew, a third of the metrics' cost per request.
_series: dict[tuple[str, ...], tuple[Any, Any]] = {}


def _actor_fields() -> dict[str, Any]:
    actor = recorder.current_actor()
    fields: dict[str, Any] = {"kind": actor.kind}
    for name, value in (
        ("agency", actor.agency_id),
        ("system", actor.system_name),
        ("user", actor.user),
        ("operator", actor.operator),
    ):
        if value is not None:
            fields[name] = value
    return fields


def note_request(error: BaseException | None = None) -> None:
    """At the request's teardown: what the access line needs from the application."""
    rule = request.url_rule
    written = recorder.request_audit() is not None
    request.environ[FACTS] = {
        "route": rule.rule if rule is not None else UNMATCHED,
        # The audit entry's id, once the entry is in; a request whose entry failed has none.
        "request_id": g.get("request_id") if written else None,
        "actor": _actor_fields(),
    }


class AccessLog:
    """A WSGI wrapper that logs and measures every request the application answers."""

    def __init__(self, application: WSGIApplication) -> None:
        self.application = application

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        started = time.perf_counter()
        answer = {"status": 0}

        def noting_start(status: str, headers: Any, exc_info: Any = None) -> Any:
            answer["status"] = int(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        try:
            body = self.application(environ, noting_start)
        except BaseException:
            _finish(environ, 500, 0, started)
            raise
        return _Counted(body, lambda sent: _finish(environ, answer["status"], sent, started))


class _Counted:
    """The response body, counted as it is sent; reported when the server closes it."""

    def __init__(self, body: Iterable[bytes], report: Callable[[int], None]) -> None:
        self._body = body
        self._report = report
        self._sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._body:
            self._sent += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._report(self._sent)


def _finish(environ: dict[str, Any], status: int, sent: int, started: float) -> None:
    seconds = time.perf_counter() - started
    facts = environ.get(FACTS) or {"route": UNMATCHED, "request_id": None, "actor": {}}
    listener = str(environ.get("exchange.listener", "direct"))
    method = str(environ.get("REQUEST_METHOD", ""))
    route = str(facts["route"])
    actor = facts["actor"] or {"kind": "anonymous"}
    key = (listener, route, method, str(status), actor["kind"])
    series = _series.get(key)
    if series is None:
        series = _series.setdefault(
            key, (REQUESTS.labels(*key), REQUEST_SECONDS.labels(*key[:3], key[4]))
        )
    series[0].inc()
    series[1].observe(seconds)
    duration_ms = round(seconds * 1000, 3)
    log.info(
        "%s %s %s %.1f ms",
        method,
        route,
        status,
        duration_ms,
        extra={
            "access": {
                "request_id": facts["request_id"],
                "listener": listener,
                "actor": actor,
                "method": method,
                "route": route,
                "status": status,
                "bytes": sent,
                "duration_ms": duration_ms,
            }
        },
    )


def init_app(app: Flask) -> None:
    app.teardown_request(note_request)
    app.wsgi_app = AccessLog(app.wsgi_app)  # type: ignore[method-assign]
