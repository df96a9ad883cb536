"""RFC 9457 problem details: every error leaves the exchange in this one shape.

A service's refusal (exchange.errors) is answered with the status of its kind; views and
the HTTP layer raise problems with a status of their own. Either way the code is stable,
and the text of an unexpected exception never reaches the client (it is logged with the
request id instead).
"""

from __future__ import annotations

import http
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import marshmallow as ma
from flask import Flask, Response, current_app, g, has_request_context, json, request
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from exchange.errors import Kind, Refusal

log = logging.getLogger(__name__)

PROBLEM_TYPE_PREFIX = "urn:exchange:problem:"

# Stable codes for the HTTP errors Werkzeug raises before a view runs.
_HTTP_CODES = {
    400: "bad_request",
    401: "authentication_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    411: "length_required",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "parameters_invalid",
    429: "too_many_requests",
}


STATUS_OF_KIND = {
    Kind.MALFORMED: 400,
    Kind.UNAUTHENTICATED: 401,
    Kind.FORBIDDEN: 403,
    Kind.NOT_FOUND: 404,
    Kind.CONFLICT: 409,
    Kind.GONE: 410,
    Kind.TOO_LARGE: 413,
    Kind.INVALID: 422,
    Kind.TOO_MANY: 429,
    Kind.UNAVAILABLE: 503,
}
_KIND_OF_STATUS = {status: kind for kind, status in STATUS_OF_KIND.items()}


class Problem(Refusal):
    """An error the exchange answers with, at the HTTP layer: views, guards, handlers."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str | None = None,
        *,
        errors: Sequence[Mapping[str, Any]] = (),
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        kind = _KIND_OF_STATUS.get(status, Kind.UNAVAILABLE if status >= 500 else Kind.MALFORMED)
        super().__init__(kind, code, title, detail, errors=errors, extra=extra)
        self.status = status
        self.headers = dict(headers or {})

    @classmethod
    def of(cls, refusal: Refusal) -> Problem:
        """The answer to a service's refusal."""
        if isinstance(refusal, Problem):
            return refusal
        problem = cls(
            STATUS_OF_KIND[refusal.kind],
            refusal.code,
            refusal.title,
            refusal.detail,
            errors=refusal.errors,
            extra=refusal.extra,
        )
        problem.__cause__ = refusal
        return problem

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE_PREFIX + self.code,
            "title": self.title,
            "status": self.status,
            "code": self.code,
        }
        if self.detail:
            body["detail"] = self.detail
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        request_id = getattr(g, "request_id", None)
        if request_id:
            body["request_id"] = request_id
        return body


ProblemRenderer = Callable[[Problem], Response | None]
_RENDERERS = "exchange.problem_renderers"


def add_problem_renderer(app: Flask, renderer: ProblemRenderer) -> None:
    """Let ``renderer`` answer the problems of the requests it recognises (None: not its own)."""
    app.extensions.setdefault(_RENDERERS, []).append(renderer)


def problem_response(refusal: Refusal) -> Response:
    problem = Problem.of(refusal)
    # The web UI answers its own requests with a page (exchange.ui.security), the TAXII
    # server with its error message (exchange.taxii.api).
    if has_request_context():
        for render in current_app.extensions.get(_RENDERERS, ()):
            rendered = render(problem)
            if rendered is not None:
                return cast(Response, rendered)
    response = current_app.response_class(
        json.dumps(problem.to_dict(), ensure_ascii=False),
        status=problem.status,
        mimetype="application/problem+json",
    )
    for name, value in problem.headers.items():
        response.headers[name] = value
    return response


class ProblemFieldSchema(ma.Schema):
    pointer = ma.fields.String(metadata={"description": "RFC 6901 JSON Pointer into the body"})
    parameter = ma.fields.String(metadata={"description": "Query or path parameter name"})
    detail = ma.fields.String()


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details, as documented in the OpenAPI description."""

    type = ma.fields.String(metadata={"description": "urn:exchange:problem:<code>"})
    title = ma.fields.String()
    status = ma.fields.Integer()
    detail = ma.fields.String()
    code = ma.fields.String(metadata={"description": "Stable machine-readable code"})
    request_id = ma.fields.String(metadata={"description": "Also the id of the audit entry"})
    errors = ma.fields.List(ma.fields.Nested(ProblemFieldSchema))


def _parameter_errors(messages: Mapping[str, Any]) -> list[dict[str, str]]:
    """Flatten webargs' ``{location: {field: [messages]}}`` into parameter errors."""
    errors: list[dict[str, str]] = []
    for location, fields in messages.items():
        if not isinstance(fields, Mapping):
            errors.append({"parameter": str(location), "detail": str(fields)})
            continue
        for field, field_messages in fields.items():
            items = field_messages if isinstance(field_messages, list) else [field_messages]
            for message in items:
                key = "pointer" if location == "json" else "parameter"
                name = f"/{field}" if key == "pointer" else str(field)
                errors.append({key: name, "detail": str(message)})
    return sorted(errors, key=lambda e: (e.get("pointer", ""), e.get("parameter", "")))


def problem_from_http_exception(error: HTTPException) -> Problem:
    status = error.code or 500
    if status >= 500:
        return Problem(500, "internal_error", "Internal error")
    code = _HTTP_CODES.get(status, "bad_request")
    data = getattr(error, "data", None) or {}
    errors = _parameter_errors(data["messages"]) if "messages" in data else []
    title = error.name
    detail = None
    if status == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        detail = f"The request body exceeds the limit of {limit} bytes."
    elif status == 405:
        detail = f"{request.method} is not allowed here."
    return Problem(status, code, title, detail, errors=errors, headers=_http_headers(error))


def _http_headers(error: HTTPException) -> dict[str, str]:
    """The headers Werkzeug would have sent with its own page, less its content type.

    They belong to the status: RFC 9110 §15.5.6 requires ``Allow`` on a 405, §11.6.1
    ``WWW-Authenticate`` on a 401, §10.2.3 lets ``Retry-After`` go with a 429 or 503.
    """
    return {name: value for name, value in error.get_headers() if name.lower() != "content-type"}


class ProblemApi(Api):
    """flask-smorest's Api, answering every error as RFC 9457 problem details."""

    ERROR_SCHEMA = ProblemSchema
    ERROR_CONTENT_TYPE = "application/problem+json"

    def _register_responses(self) -> None:
        # flask-smorest documents errors in its success content type; they are sent as
        # RFC 9457 documents, and a client generated from the description must expect that.
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, self.ERROR_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        default: dict[str, Any] = {"description": "Problem details", "schema": self.ERROR_SCHEMA}
        prepare_response(default, self.spec, self.ERROR_CONTENT_TYPE)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, default, lazy=True)

    def _register_error_handlers(self) -> None:
        self._app.register_error_handler(Refusal, self.handle_problem)
        self._app.register_error_handler(HTTPException, self.handle_http_exception)
        self._app.register_error_handler(IntegrityError, self.handle_integrity_error)
        self._app.register_error_handler(DataError, self.handle_data_error)
        self._app.register_error_handler(OperationalError, self.handle_database_unavailable)
        self._app.register_error_handler(Exception, self.handle_unexpected)

    def handle_problem(self, refusal: Refusal) -> Response:
        return problem_response(refusal)

    def handle_http_exception(self, error: HTTPException) -> Response:
        if error.code is not None and error.code >= 500:
            log.error("request %s failed: %s", getattr(g, "request_id", "-"), error)
        return problem_response(problem_from_http_exception(error))

    def handle_integrity_error(self, error: IntegrityError) -> Response:
        # Two requests wrote the same thing at once (e.g. the same record version on
        # PostgreSQL); the loser's retry is answered by the idempotent path.
        log.warning("request %s lost a concurrent write", getattr(g, "request_id", "-"))
        return problem_response(
            Problem(
                409,
                "concurrent_write",
                "Concurrent write",
                "Another request changed the same data at the same moment; retry the request.",
            )
        )

    def handle_data_error(self, error: DataError) -> Response:
        # A value the database cannot hold got past validation: refuse it, and log it so
        # the validation that should have caught it can be tightened.
        log.error(
            "request %s: value refused by the database: %s", getattr(g, "request_id", "-"), error
        )
        return problem_response(
            Problem(400, "value_invalid", "Invalid value", "A value is out of range or malformed.")
        )

    def handle_database_unavailable(self, error: OperationalError) -> Response:
        log.error("request %s: database unavailable: %s", getattr(g, "request_id", "-"), error)
        return problem_response(
            Problem(
                503,
                "database_unavailable",
                "Database unavailable",
                "Retry later.",
                headers={"Retry-After": "5"},
            )
        )

    def handle_unexpected(self, error: Exception) -> Response:
        log.exception("request %s failed", getattr(g, "request_id", "-"))
        return problem_response(Problem(500, "internal_error", "Internal error"))
