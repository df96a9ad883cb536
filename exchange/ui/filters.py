"""Template filters: times in Japan Standard Time on screen (UTC stays in the data)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask import Flask

from exchange.clock import as_utc, parse_rfc3339

# Japan keeps no daylight saving time: a fixed offset is exact.
JST = timezone(timedelta(hours=9), "JST")


def to_jst(moment: datetime | str | None) -> datetime | None:
    if moment is None or moment == "":
        return None
    if isinstance(moment, str):
        moment = parse_rfc3339(moment)
    return as_utc(moment).astimezone(JST)


def jst(moment: datetime | str | None, seconds: bool = False) -> str:
    local = to_jst(moment)
    if local is None:
        return ""
    return local.strftime("%Y-%m-%d %H:%M:%S JST" if seconds else "%Y-%m-%d %H:%M JST")


def utc_iso(moment: datetime | str | None) -> str:
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        moment = parse_rfc3339(moment)
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def serial_hex(serial: str | int) -> str:
    """An X.509 serial as people compare it: hexadecimal bytes, as openssl prints it."""
    try:
        value = int(serial)
    except (TypeError, ValueError):
        return str(serial)
    digits = f"{value:x}"
    digits = "0" * (len(digits) % 2) + digits
    return ":".join(digits[i : i + 2] for i in range(0, len(digits), 2)).upper()


def init_app(app: Flask) -> None:
    app.add_template_filter(jst, "jst")
    app.add_template_filter(utc_iso, "utc_iso")
    app.add_template_filter(serial_hex, "serial_hex")
