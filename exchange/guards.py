"""Refusals that apply to every request, before any view runs."""

from __future__ import annotations

from flask import Flask, request
from werkzeug.exceptions import RequestEntityTooLarge

from exchange.problems import Problem
from exchange.request_body import TOO_LARGE


def refuse_nul_characters() -> None:
    """NUL has no place in a URL or header, and PostgreSQL text cannot hold it at all."""
    if "\x00" in request.path or b"\x00" in request.query_string or "%00" in request.full_path:
        raise Problem(
            400,
            "invalid_characters",
            "Invalid characters",
            "The request's URL contains a NUL character.",
        )
    for name, value in request.headers.items():
        if "\x00" in value:
            raise Problem(
                400,
                "invalid_characters",
                "Invalid characters",
                f"The header {name} contains a NUL character.",
            )


def refuse_too_large() -> None:
    """A body over the limit (exchange.request_body): answered 413, which ends the connection."""
    if request.environ.get(TOO_LARGE):
        raise RequestEntityTooLarge()


def init_app(app: Flask) -> None:
    app.before_request(refuse_too_large)
    app.before_request(refuse_nul_characters)
