"""Logging for the exchange's processes, set up in one place: a level, JSON lines or text.

Messages carry no record payload, search term, query string or secret: the access line is
built from the URL rule, and the database's errors are logged without their parameters.
"""

from __future__ import annotations

import logging
import ssl
import sys
from datetime import UTC, datetime
from typing import Any

import orjson
from cheroot import errors as cheroot_errors
from flask import Flask
from flask.logging import default_handler

from exchange.clock import rfc3339

# What a client that goes away mid-connection leaves behind: not the server's fault.
_CLIENT_GONE = (
    ConnectionError,
    TimeoutError,
    ssl.SSLError,
    cheroot_errors.FatalSSLAlert,
    cheroot_errors.NoSSLError,
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the access fields."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": rfc3339(datetime.fromtimestamp(record.created, UTC)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        access = getattr(record, "access", None)
        if isinstance(access, dict):
            document.update(access)
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(document, default=str).decode("utf-8")


def configure_logging(app: Flask) -> None:
    """The root logger's one handler, on standard error, as the settings ask."""
    handler = logging.StreamHandler(sys.stderr)
    if app.config["EXCHANGE_LOG_JSON"]:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(str(app.config["EXCHANGE_LOG_LEVEL"]).upper())
    # Flask's own handler on the app's logger would print every message a second time.
    app.logger.removeHandler(default_handler)
    # alembic announces its dialect each time /readyz reads the schema's revision.
    logging.getLogger("alembic").setLevel(logging.WARNING)


def client_went_away(error: BaseException | None) -> bool:
    return isinstance(error, _CLIENT_GONE)
