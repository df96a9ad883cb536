"""Stylesheets, scripts and the icon: versioned URLs a browser may keep, and /favicon.ico.

Each fetch of a static file is a request, and every request is an audit entry. A URL
that names the file's content (``?v=``) is cached by the browser until the file changes,
so page views stop fetching the same stylesheet again and again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, request, send_from_directory

from exchange.trail.access_trails import RESOURCE_ACTIONS
from exchange.trail.recorder import audited

STATIC_ACTION = RESOURCE_ACTIONS[0]
ICON = "favicon.svg"
# A versioned file never changes under its URL: a year, as RFC 9111 §5.2.2.1 allows.
VERSIONED_MAX_AGE = 365 * 24 * 3600

_versions: dict[tuple[str, int, int], str] = {}


def static_version(filename: str) -> str | None:
    """A short digest of the static file's content, or None if there is no such file."""
    folder = current_app.static_folder
    if folder is None:
        return None
    path = Path(folder) / filename
    try:
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        if key not in _versions:
            _versions[key] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError:
        return None
    return _versions[key]


def _versioned_url(endpoint: str, values: dict[str, Any]) -> None:
    if endpoint == "static" and "filename" in values and "v" not in values:
        version = static_version(str(values["filename"]))
        if version is not None:
            values["v"] = version


def _cache_versioned(response: Response) -> Response:
    if request.endpoint != "static" or response.status_code != 200:
        return response
    filename = str((request.view_args or {}).get("filename", ""))
    wanted = request.args.get("v")
    if wanted is not None and wanted == static_version(filename):
        response.cache_control.max_age = VERSIONED_MAX_AGE
        response.cache_control.immutable = True
        response.cache_control.no_cache = None
    return response


@audited(STATIC_ACTION)
def favicon() -> Response:
    """For what asks for /favicon.ico without reading a page's icon link."""
    folder = current_app.static_folder
    assert folder is not None
    return send_from_directory(folder, ICON, mimetype="image/svg+xml")


def init_app(app: Flask) -> None:
    app.url_defaults(_versioned_url)
    app.after_request(_cache_versioned)
    app.add_url_rule("/favicon.ico", "favicon", favicon, methods=["GET"])
