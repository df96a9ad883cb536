"""Configuration: defaults here, then ``instance/config.py``, then ``EXCHANGE_*`` variables.

Every setting is read and checked by ``SETTINGS``, whichever of the two it came from.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeAlias

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
    # The API's address as agencies reach it (a load balancer, a DNS name): written into
    # bundles and into the server certificate's names. None: the API listener's address.
    "EXCHANGE_PUBLIC_URL": None,
    # Days a new receipt key is published before it signs, so that clients which cache
    # the JWKS hold it before the first receipt it signs.
    "EXCHANGE_ROTATION_OVERLAP_DAYS": 7.0,
    "EXCHANGE_SERVER_THREADS": 16,
    # Pulls of one process that may wait for events at once; None: half the threads.
    "EXCHANGE_WAITING_PULLS": None,
    "EXCHANGE_SEARCH_PAGE_SIZE": 50,
    # The operations listener (exchange.ops): /healthz, /readyz and /metrics, on loopback
    # and plain HTTP unless told otherwise (TLS: the exchange's server certificate).
    "EXCHANGE_OPS_HOST": "127.0.0.1",
    "EXCHANGE_OPS_PORT": 9464,
    "EXCHANGE_OPS_TLS": False,
    # /readyz fails past these: entries waiting for a leaf, and seconds since the newest
    # checkpoint while it leaves entries or leaves uncovered.
    "EXCHANGE_READY_MAX_INTEGRATOR_LAG": 10_000,
    "EXCHANGE_READY_MAX_CHECKPOINT_AGE": 60.0,
    # Logging of `exchange serve`, `integrator` and `worker`: level, and JSON lines or text.
    "EXCHANGE_LOG_LEVEL": "INFO",
    "EXCHANGE_LOG_JSON": True,
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
    # Records one download of search results may carry (CSV or .xlsx, built in memory).
    "EXCHANGE_RECORD_EXPORT_MAX": 5_000,
    # Largest sheet a liaison officer may upload for import; under MAX_CONTENT_LENGTH.
    "EXCHANGE_IMPORT_UPLOAD_MAX": 512 * 1024,
    # A TrueType font with Japanese glyphs for notice PDFs; None: the first installed one
    # of exchange.notices.package.FONT_CANDIDATES.
    "EXCHANGE_PDF_FONT": None,
    "EXCHANGE_AUDIT_VERIFY_INLINE_MAX": 100_000,
    # Disposal of records past their retention date: "inline" runs it in the server
    # process every EXCHANGE_RETENTION_INTERVAL seconds; "off" leaves it to
    # `exchange retention run` (from cron, say). A run disposes of a batch at most.
    "EXCHANGE_RETENTION": "inline",
    "EXCHANGE_RETENTION_INTERVAL": 3600.0,
    "EXCHANGE_RETENTION_BATCH": 500,
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
    # Every API route is reached over mutual TLS with an agency system's certificate
    # (OpenAPI 3.1 §4.8.27); the exchange's CA is at /pki/ca.pem.
    "API_SPEC_OPTIONS": {
        "components": {
            "securitySchemes": {
                "agencySystem": {
                    "type": "mutualTLS",
                    "description": "A client certificate issued by the exchange's CA.",
                }
            }
        },
        "security": [{"agencySystem": []}],
    },
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


class ConfigurationError(ValueError):
    """A setting with a value the exchange cannot use; the message names the setting."""


# How a setting's value is read: from a string (the environment, or a string in
# instance/config.py) or checked as the Python value instance/config.py gave.
Reader: TypeAlias = Callable[[object], object]


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return value


def _integer(minimum: int, maximum: int | None = None) -> Reader:
    def read(value: object) -> int:
        if isinstance(value, str) and re.fullmatch(r"[0-9]+", value.strip()):
            value = int(value.strip())
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError("must be a whole number")
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"from {minimum} to {maximum}" if maximum is not None else f"{minimum} or more"
            raise ValueError(f"must be {bound}")
        return value

    return read


def _seconds(value: object) -> float:
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError("must be a number of seconds") from None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError("must be a number of seconds")
    if value < 0:
        raise ValueError("must be 0 or more")
    return float(value)


def _choice(*choices: str) -> Reader:
    def read(value: object) -> str:
        if value not in choices:
            raise ValueError("must be " + " or ".join(repr(choice) for choice in choices))
        return str(value)

    return read


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
    raise ValueError("must be true or false (1/0, yes/no, on/off)")


def _log_level(value: object) -> str:
    level = str(value).strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return level


def _mapping(value: object) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError("must be a JSON object") from None
    if not isinstance(value, dict):
        raise ValueError("must be a JSON object (a dict in instance/config.py)")
    return value


def _days(value: object) -> float:
    try:
        return _seconds(value)
    except ValueError:
        raise ValueError("must be a number of days, 0 or more") from None


def _https_url(value: object) -> str:
    text = _text(value).strip().rstrip("/")
    if not re.fullmatch(r"https://[^/\s?#@]+(?::[0-9]{1,5})?", text):
        raise ValueError("must be an https:// URL with a host (and port), without a path")
    return text


def _optional(read: Reader) -> Reader:
    def optional(value: object) -> object:
        return None if value is None or value == "" else read(value)

    return optional


_PORT = _integer(0, 65535)

# Every setting an operator may give, each read the same way from the environment and from
# instance/config.py. The environment wins, so that a node can differ from the shared file.
SETTINGS: dict[str, Reader] = {
    "EXCHANGE_DATABASE_URL": _optional(_text),
    "EXCHANGE_KEY_PASSPHRASE": _optional(_text),
    "EXCHANGE_KEYS_DIR": _optional(_text),
    "EXCHANGE_BUNDLES_DIR": _optional(_text),
    "EXCHANGE_PDF_FONT": _optional(_text),
    "EXCHANGE_NAME": _text,
    "EXCHANGE_MAX_BODY_BYTES": _optional(_integer(1)),
    "EXCHANGE_MAX_JSON_DEPTH": _integer(1),
    "EXCHANGE_MAX_BATCH": _integer(1),
    "EXCHANGE_CLOCK_SKEW_SECONDS": _integer(0),
    "EXCHANGE_API_HOST": _text,
    "EXCHANGE_API_PORT": _PORT,
    "EXCHANGE_UI_PORT": _PORT,
    "EXCHANGE_PUBLIC_URL": _optional(_https_url),
    "EXCHANGE_ROTATION_OVERLAP_DAYS": _days,
    "EXCHANGE_SERVER_THREADS": _integer(1),
    "EXCHANGE_WAITING_PULLS": _optional(_integer(1)),
    "EXCHANGE_SEARCH_PAGE_SIZE": _integer(1),
    "EXCHANGE_OPS_HOST": _text,
    "EXCHANGE_OPS_PORT": _PORT,
    "EXCHANGE_OPS_TLS": _flag,
    "EXCHANGE_READY_MAX_INTEGRATOR_LAG": _integer(0),
    "EXCHANGE_READY_MAX_CHECKPOINT_AGE": _seconds,
    "EXCHANGE_LOG_LEVEL": _log_level,
    "EXCHANGE_LOG_JSON": _flag,
    "EXCHANGE_INTEGRATOR": _choice("inline", "off"),
    "EXCHANGE_INTEGRATOR_BATCH": _integer(1),
    "EXCHANGE_CHECKPOINT_INTERVAL": _seconds,
    "EXCHANGE_SEQUENCER_HOLE_SECONDS": _seconds,
    "EXCHANGE_PROOF_MAX_ENTRIES": _integer(1),
    "EXCHANGE_LOG_ORIGIN": _optional(_text),
    "EXCHANGE_AUDIT_TRAIL_PAGE": _integer(1),
    "EXCHANGE_AUDIT_BULK_READS": _integer(1),
    "EXCHANGE_AUDIT_REPEATED_DENIALS": _integer(1),
    "EXCHANGE_AUDIT_EXPORT_MAX": _integer(1),
    "EXCHANGE_RECORD_EXPORT_MAX": _integer(1),
    "EXCHANGE_IMPORT_UPLOAD_MAX": _integer(1),
    "EXCHANGE_AUDIT_VERIFY_INLINE_MAX": _integer(0),
    "EXCHANGE_RETENTION": _choice("inline", "off"),
    "EXCHANGE_RETENTION_INTERVAL": _seconds,
    "EXCHANGE_RETENTION_BATCH": _integer(1),
    "EXCHANGE_PUSH": _choice("inline", "off"),
    "EXCHANGE_PUSH_THREADS": _integer(1),
    "EXCHANGE_PUSH_BATCH": _integer(1),
    "EXCHANGE_PUSH_LINGER": _seconds,
    "EXCHANGE_PUSH_TIMEOUT": _seconds,
    "EXCHANGE_PUSH_BASE_BACKOFF": _seconds,
    "EXCHANGE_PUSH_MAX_BACKOFF": _seconds,
    "EXCHANGE_PUSH_MAX_ATTEMPTS": _integer(1),
    "EXCHANGE_PUSH_MAX_AGE": _seconds,
    "EXCHANGE_PUSH_CA_FILE": _optional(_text),
    "EXCHANGE_OIDC_PROVIDERS": _mapping,
    "EXCHANGE_UI_IDLE_MINUTES": _integer(1),
    "EXCHANGE_UI_SESSION_HOURS": _integer(1),
}


_SECRETS = frozenset(
    {"EXCHANGE_DATABASE_URL", "EXCHANGE_KEY_PASSPHRASE", "EXCHANGE_OIDC_PROVIDERS"}
)


def read_settings(
    configured: Mapping[str, Any], environment: Mapping[str, str], *, fixed: Iterable[str] = ()
) -> dict[str, Any]:
    """The settings in force: each from the environment if set there (unless ``fixed``),
    else as configured, checked; ConfigurationError names the first unusable one."""
    held = set(fixed)
    settings: dict[str, Any] = {}
    for name, read in SETTINGS.items():
        if name in environment and name not in held:
            value: object = environment[name]
            source = "the environment"
        elif name in configured:
            value, source = configured[name], "the configuration"
        else:
            continue
        try:
            settings[name] = read(value)
        except ValueError as error:
            # Secrets stay out of the message, which ends up in terminals and logs.
            shown = "the value given" if name in _SECRETS else repr(value)
            raise ConfigurationError(f"{name} {error}, not {shown} (from {source}).") from None
    return settings


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
    # A test's own configuration is what it tests: the environment does not override it.
    app.config.update(read_settings(app.config, os.environ, fixed=test_config or ()))
    if app.config.get("EXCHANGE_MAX_BODY_BYTES") is not None:
        app.config["MAX_CONTENT_LENGTH"] = app.config["EXCHANGE_MAX_BODY_BYTES"]
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url(app)
    if not app.config.get("EXCHANGE_KEYS_DIR"):
        app.config["EXCHANGE_KEYS_DIR"] = str(Path(app.instance_path) / "keys")
    if not app.config.get("EXCHANGE_BUNDLES_DIR"):
        app.config["EXCHANGE_BUNDLES_DIR"] = str(Path(app.instance_path) / "bundles")
