"""``/taxii2/``: a TAXII 2.1 server on the mTLS API listener, audited like the API.

Writers add objects carrying their signed records; the records are published as the
records API publishes them, under the same audit action.

Errors leave in TAXII's own error message format (TAXII 2.1 §3.6.1), carrying the
exchange's stable code and the request id.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import orjson
from flask import Blueprint, Flask, Response, current_app, g, request
from werkzeug.datastructures import MultiDict

from exchange.auth.mtls import require_system
from exchange.jsonbody import parse_json
from exchange.problems import Problem, add_problem_renderer
from exchange.records.api import publish_context
from exchange.taxii import publishing, service
from exchange.taxii.query import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Cursor,
    Entry,
    ObjectPage,
    ObjectQuery,
    date_added,
    object_version,
    parse_timestamp,
)
from exchange.taxii.service import Collection
from exchange.trail.recorder import audited

# TAXII 2.1 §1.6.8.1.
TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"
PREFIX = "/taxii2/"
API_ROOT = "api"

bp = Blueprint("taxii", __name__, url_prefix="/taxii2")
bp.before_request(require_system)


def _acceptable(accept: str | None) -> bool:
    """TAXII 2.1 §1.6.8.1: the TAXII media type, with version 2.1 or none (the latest)."""
    if not accept:
        return True
    for item in accept.split(","):
        media_type, *parameters = (part.strip() for part in item.split(";"))
        params = dict(p.split("=", 1) for p in parameters if "=" in p)
        if params.get("q", "1").strip() in ("0", "0.0", "0.00", "0.000"):
            continue
        if media_type in ("*/*", "application/*"):
            return True
        if media_type == "application/taxii+json" and params.get("version", "2.1") == "2.1":
            return True
    return False


@bp.before_request
def negotiate() -> None:
    if not _acceptable(request.headers.get("Accept")):
        raise Problem(
            406,
            "not_acceptable",
            "Not acceptable",
            f"This server answers in {TAXII_MEDIA_TYPE}.",
        )


def _taxii(
    body: Mapping[str, Any], *, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    response = current_app.response_class(orjson.dumps(body), status=status)
    response.headers["Content-Type"] = TAXII_MEDIA_TYPE
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _url(path: str) -> str:
    return f"{request.url_root.rstrip('/')}{PREFIX}{path}"


@bp.route("/", methods=["GET"])
@audited("taxii.discovery")
def discovery() -> Response:
    # TAXII 2.1 §4.1.1.
    root = _url(f"{API_ROOT}/")
    return _taxii(
        {
            "title": "Inter-agency information-sharing exchange",
            "description": "Signed records of brokers, schools and illegal employment, as "
            "STIX 2.1, under the exchange's sharing policy. Every read is audited with its "
            "purpose.",
            "default": root,
            "api_roots": [root],
        }
    )


@bp.route(f"/{API_ROOT}/", methods=["GET"])
@audited("taxii.api_root")
def api_root() -> Response:
    # TAXII 2.1 §4.2.1.
    return _taxii(
        {
            "title": "Exchange records",
            "versions": [TAXII_MEDIA_TYPE],
            "max_content_length": current_app.config.get("MAX_CONTENT_LENGTH") or 0,
        }
    )


@bp.route(f"/{API_ROOT}/collections/", methods=["GET"])
@audited("taxii.collections")
def collections() -> Response:
    found = service.list_collections(actor=g.actor)
    return _taxii({"collections": [c.document() for c in found]} if found else {})


def _collection(collection_id: str) -> Collection:
    g.audit.details["collection"] = collection_id
    collection = service.get_collection(actor=g.actor, collection=collection_id)
    g.audit.details["type"] = collection.record_type
    return collection


@bp.route(f"/{API_ROOT}/collections/<collection_id>/", methods=["GET"])
@audited("taxii.collection")
def collection(collection_id: str) -> Response:
    return _taxii(_collection(collection_id).document())


def _purpose() -> None:
    g.audit.purpose = service.reading_purpose(
        actor=g.actor, stated=request.headers.get("Exchange-Purpose")
    )


def _listed(arguments: MultiDict[str, str], name: str) -> list[str]:
    # TAXII 2.1 §3.4.1: a filter's values are comma-separated.
    return [v.strip() for value in arguments.getlist(name) for v in value.split(",") if v.strip()]


def _query(*, object_id: str | None = None, all_versions: bool = False) -> ObjectQuery:
    arguments = request.args
    unknown = sorted(
        name
        for name in arguments
        if name not in ("added_after", "limit", "next")
        and name not in ("match[id]", "match[type]", "match[version]", "match[spec_version]")
    )
    if unknown:
        raise Problem(
            400,
            "parameters_invalid",
            "Unknown parameter",
            errors=[
                {"parameter": name, "detail": "Not a TAXII 2.1 parameter."} for name in unknown
            ],
        )
    added_after = arguments.get("added_after")
    limit = arguments.get("limit")
    if limit is not None and not (limit.isascii() and limit.isdigit() and int(limit) > 0):
        raise Problem(
            400,
            "parameters_invalid",
            "Invalid limit",
            errors=[{"parameter": "limit", "detail": "A positive integer."}],
        )
    versions = _listed(arguments, "match[version]") or ["last"]
    if all_versions:
        versions = ["all"]
    ids = _listed(arguments, "match[id]")
    if object_id is not None:
        ids = [object_id]
    cursor = arguments.get("next")
    return ObjectQuery(
        added_after=(
            parse_timestamp(added_after, parameter="added_after") if added_after else None
        ),
        limit=min(int(limit), MAX_LIMIT) if limit else DEFAULT_LIMIT,
        next=Cursor.decode(cursor) if cursor else None,
        ids=ids,
        types=_listed(arguments, "match[type]"),
        versions=versions,
        spec_versions=_listed(arguments, "match[spec_version]"),
    )


def _page(collection_id: str, query: ObjectQuery) -> ObjectPage:
    collection = _collection(collection_id)
    service.require_read(collection)
    _purpose()
    page = service.read_objects(actor=g.actor, collection=collection, query=query)
    g.audit.targets.extend(page.targets)
    g.audit.details["objects"] = len(page.entries)
    return page


def _envelope(page: ObjectPage, items: str, values: list[Any]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if page.more:
        body["more"] = True
        body["next"] = page.next
    if values:
        body[items] = values
    return body


def _added_headers(entries: list[Entry]) -> dict[str, str]:
    # TAXII 2.1 §3.3.1: the dates added of the first and last object in the response.
    if not entries:
        return {}
    return {
        "X-TAXII-Date-Added-First": date_added(entries[0].date_added),
        "X-TAXII-Date-Added-Last": date_added(entries[-1].date_added),
    }


@bp.route(f"/{API_ROOT}/collections/<collection_id>/manifest/", methods=["GET"])
@audited("taxii.manifest")
def manifest(collection_id: str) -> Response:
    page = _page(collection_id, _query())
    body = _envelope(page, "objects", [e.manifest() for e in page.entries])
    return _taxii(body, headers=_added_headers(page.entries))


@bp.route(f"/{API_ROOT}/collections/<collection_id>/objects/", methods=["GET"])
@audited("taxii.objects")
def objects(collection_id: str) -> Response:
    page = _page(collection_id, _query())
    body = _envelope(page, "objects", [e.object for e in page.entries])
    return _taxii(body, headers=_added_headers(page.entries))


@bp.route(f"/{API_ROOT}/collections/<collection_id>/objects/<object_id>/", methods=["GET"])
@audited("taxii.object")
def single_object(collection_id: str, object_id: str) -> Response:
    page = _page(collection_id, _query(object_id=object_id))
    if not page.entries:
        raise Problem(404, "object_not_found", "No such object", f"No object {object_id!r}.")
    body = _envelope(page, "objects", [e.object for e in page.entries])
    return _taxii(body, headers=_added_headers(page.entries))


@bp.route(f"/{API_ROOT}/collections/<collection_id>/objects/<object_id>/versions/", methods=["GET"])
@audited("taxii.versions")
def versions(collection_id: str, object_id: str) -> Response:
    page = _page(collection_id, _query(object_id=object_id, all_versions=True))
    if not page.entries:
        raise Problem(404, "object_not_found", "No such object", f"No object {object_id!r}.")
    body = _envelope(page, "versions", [object_version(e.object) for e in page.entries])
    return _taxii(body, headers=_added_headers(page.entries))


def _posted_objects() -> list[Any]:
    """The objects of a posted envelope resource (TAXII 2.1 §3.7)."""
    version = request.mimetype_params.get("version", "2.1")
    if request.mimetype != "application/taxii+json" or version != "2.1":
        raise Problem(
            415, "unsupported_media_type", "Unsupported media type", f"Send {TAXII_MEDIA_TYPE}."
        )
    # get_data honours MAX_CONTENT_LENGTH, the API root's max_content_length: 413 unread.
    body = parse_json(
        request.get_data(cache=False), max_depth=current_app.config["EXCHANGE_MAX_JSON_DEPTH"]
    )
    objects = body.get("objects") if isinstance(body, dict) else None
    if not isinstance(objects, list) or not objects:
        raise Problem(
            422,
            "envelope_invalid",
            "Invalid envelope",
            "A TAXII envelope: a JSON object whose objects is a non-empty list.",
            errors=[{"pointer": "/objects", "detail": "A non-empty list of STIX objects."}],
        )
    return objects


@bp.route(f"/{API_ROOT}/collections/<collection_id>/objects/", methods=["POST"])
@audited("record.publish")
def add_objects(collection_id: str) -> Response:
    # TAXII 2.1 §5.4; the audit action of every publication, whichever way it came.
    collection = _collection(collection_id)
    service.require_write(collection)
    objects = _posted_objects()
    g.audit.details["batch"] = len(objects)
    status = publishing.add_objects(
        context=publish_context(),
        collection=collection,
        objects=objects,
        max_objects=current_app.config["EXCHANGE_MAX_BATCH"],
        max_depth=current_app.config["EXCHANGE_MAX_JSON_DEPTH"],
    )
    document = publishing.status_document(status)
    g.audit.details["status"] = status.id
    if document["failures"]:
        codes = Counter(f["x_exchange_code"] for f in document["failures"])
        g.audit.details["refused"] = dict(sorted(codes.items()))
    return _taxii(document, status=202)


@bp.route(f"/{API_ROOT}/status/<status_id>/", methods=["GET"], strict_slashes=False)
@audited("taxii.status")
def status(status_id: str) -> Response:
    # TAXII 2.1 §4.3; taxii2-client asks for it without the trailing slash.
    found = publishing.read_status(actor=g.actor, status_id=status_id)
    g.audit.details["status"] = found.id
    return _taxii(publishing.status_document(found))


@bp.route(f"/{API_ROOT}/collections/<collection_id>/objects/<object_id>/", methods=["DELETE"])
@audited("taxii.delete")
def delete_object(collection_id: str, object_id: str) -> Response:
    _collection(collection_id)
    # TAXII 2.1 §5.7 lets a server refuse with 403: versions are evidence (DESIGN §3).
    raise Problem(
        403,
        "deletion_refused",
        "Objects are never deleted",
        "Record versions are never deleted; the publisher withdraws a record instead.",
    )


def render_taxii_error(problem: Problem) -> Response | None:
    """TAXII 2.1 §3.6.1 error message, for every error under ``/taxii2/``."""
    if not request.path.startswith(PREFIX) and request.path != PREFIX.rstrip("/"):
        return None
    request_id = getattr(g, "request_id", None)
    details: dict[str, Any] = {"code": problem.code}
    if problem.errors:
        details["errors"] = problem.errors
    if request_id:
        details["request_id"] = request_id
    body: dict[str, Any] = {
        "title": problem.title,
        "error_code": problem.code,
        "http_status": str(problem.status),
        "details": details,
    }
    if problem.detail:
        body["description"] = problem.detail
    if request_id:
        body["error_id"] = request_id
    response = current_app.response_class(orjson.dumps(body), status=problem.status)
    response.headers["Content-Type"] = TAXII_MEDIA_TYPE
    for name, value in problem.headers.items():
        response.headers[name] = value
    return response


def init_app(app: Flask) -> None:
    add_problem_renderer(app, render_taxii_error)
