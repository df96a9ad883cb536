"""Configuration: defaults here, then ``instance/config.py``, then ``EXCHANGE_*`` variables."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

DEFAULTS: dict[str, Any] = {
    "EXCHANGE_NAME": "exchange.example.go.jp",
    # Bodies over the limit are refused before parsing (DESIGN §8).
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "EXCHANGE_MAX_JSON_DEPTH": 32,
    "EXCHANGE_MAX_BATCH": 500,
    "EXCHANGE_CLOCK_SKEW_SECONDS": 300,
    "EXCHANGE_API_HOST": "127.0.0.1",
    "EXCHANGE_API_PORT": 8443,
    "EXCHANGE_UI_PORT": 8444,
    "EXCHANGE_SERVER_THREADS": 16,
    # Pulls of one process that may wait for events at once; None: half the threads.
    "EXCHANGE_WAITING_PULLS": None,
    "EXCHANGE_SEARCH_PAGE_SIZE": 50,
    # The audit log's integrator: "inline" runs it in the server process (one at a time,
    # under a lock); "off" leaves it to `exchange integrator` processes.
    "EXCHANGE_INTEGRATOR": "inline",
    "EXCHANGE_INTEGRATOR_BATCH": 10_000,
    "EXCHANGE_CHECKPOINT_INTERVAL": 1.0,
    "EXCHANGE_SEQUENCER_HOLE_SECONDS": 60.0,
    "EXCHANGE_PROOF_MAX_ENTRIES": 1000,
    # Auditors' pages (exchange.trail.views): page size, pattern thresholds, export limit,
    # and the largest log that "verify now" checks while the auditor waits.
    "EXCHANGE_AUDIT_TRAIL_PAGE": 50,
    "EXCHANGE_AUDIT_BULK_READS": 200,
    "EXCHANGE_AUDIT_REPEATED_DENIALS": 5,
    "EXCHANGE_AUDIT_EXPORT_MAX": 100_000,
    "EXCHANGE_AUDIT_VERIFY_INLINE_MAX": 100_000,
    # Push delivery: "inline" runs it in the server process; "off" leaves it to
    # `exchange worker` processes.
    "EXCHANGE_PUSH": "inline",
    "EXCHANGE_PUSH_THREADS": 4,
    "EXCHANGE_PUSH_BATCH": 100,
    # Seconds a subscription that has just received everything gathers new events.
    "EXCHANGE_PUSH_LINGER": 0.25,
    "EXCHANGE_PUSH_TIMEOUT": 10.0,
    "EXCHANGE_PUSH_BASE_BACKOFF": 1.0,
    "EXCHANGE_PUSH_MAX_BACKOFF": 300.0,
    "EXCHANGE_PUSH_MAX_ATTEMPTS": 8,
    "EXCHANGE_PUSH_MAX_AGE": 3600.0,
    # CA bundle that push endpoints' server certificates must chain to (default: the
    # exchange's own CA, which issues agencies their certificates).
    "EXCHANGE_PUSH_CA_FILE": None,
    "SQLALCHEMY_TRACK_MODIFICATIONS": False,
    "API_TITLE": "Inter-agency information-sharing exchange",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.1.0",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    "JSON_SORT_KEYS": False,
    # The web UI (exchange.ui).
    "BABEL_DEFAULT_LOCALE": "ja",
    "BABEL_DEFAULT_TIMEZONE": "Asia/Tokyo",
    # __Host- cookies are Secure, path=/ and bound to this host (RFC 6265bis §4.1.3.2).
    "SESSION_COOKIE_NAME": "__Host-exchange",
    "SESSION_COOKIE_SECURE": True,
    "SESSION_COOKIE_HTTPONLY": True,
    # Lax, not Strict: an agency identity provider's redirect back must carry the cookie.
    # Cross-site posts are refused by SameSite and by the CSRF token both.
    "SESSION_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": timedelta(hours=10),
    # Agency identity providers (OpenID Connect), by name: label, metadata_url, client_id,
    # client_secret, agency, and optionally ca_file (the CA of the provider's TLS certificate)
    # and required_amr (RFC 8176 methods, one of which the ID token must name).
    "EXCHANGE_OIDC_PROVIDERS": {},
    "EXCHANGE_UI_IDLE_MINUTES": 15,
    "EXCHANGE_UI_SESSION_HOURS": 10,
    # Checked by the UI's own hook for every unsafe method (exchange.ui.access), so that
    # the mutual-TLS API, which takes no cookies, is not asked for a token.
    "WTF_CSRF_CHECK_DEFAULT": False,
    "WTF_CSRF_TIME_LIMIT": None,
    "WTF_CSRF_SSL_STRICT": True,
}

# Environment variables that override the configuration, with their types.
_ENVIRONMENT = {
    "EXCHANGE_DATABASE_URL": str,
    "EXCHANGE_KEY_PASSPHRASE": str,
    "EXCHANGE_NAME": str,
    "EXCHANGE_API_HOST": str,
    "EXCHANGE_API_PORT": int,
    "EXCHANGE_UI_PORT": int,
    "EXCHANGE_SERVER_THREADS": int,
    "EXCHANGE_WAITING_PULLS": int,
    "EXCHANGE_MAX_BODY_BYTES": int,
    "EXCHANGE_LOG_ORIGIN": str,
    "EXCHANGE_INTEGRATOR": str,
    "EXCHANGE_CHECKPOINT_INTERVAL": float,
    "EXCHANGE_PUSH": str,
    "EXCHANGE_PUSH_CA_FILE": str,
    "EXCHANGE_PUSH_LINGER": float,
    "EXCHANGE_UI_IDLE_MINUTES": int,
    "EXCHANGE_UI_SESSION_HOURS": int,
}


def database_url(app: Flask) -> str:
    url = app.config.get("EXCHANGE_DATABASE_URL")
    if url:
        if url.startswith("postgresql://"):
            # psycopg 3 is the one PostgreSQL driver the exchange supports.
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        return str(url)
    return f"sqlite:///{Path(app.instance_path) / 'exchange.db'}"


def load_configuration(app: Flask, test_config: dict[str, Any] | None) -> None:
    app.config.from_mapping(DEFAULTS)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
    else:
        app.config.from_mapping(test_config)
    for name, kind in _ENVIRONMENT.items():
        value = os.environ.get(name)
        if value is not None and (test_config is None or name not in test_config):
            app.config[name] = kind(value)
    if "EXCHANGE_MAX_BODY_BYTES" in app.config:
        app.config["MAX_CONTENT_LENGTH"] = int(app.config["EXCHANGE_MAX_BODY_BYTES"])
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url(app)
    app.config.setdefault("EXCHANGE_KEYS_DIR", str(Path(app.instance_path) / "keys"))
    app.config.setdefault("EXCHANGE_BUNDLES_DIR", str(Path(app.instance_path) / "bundles"))
