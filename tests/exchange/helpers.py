"""Reading the audit log back in tests, settings changed for one test, and requests that
only a raw connection can make."""

from __future__ import annotations

import http.client
import importlib.util
import json
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from flask import Flask
from sqlalchemy import select

from exchange.extensions import db
from exchange.trail.models import AuditEntry
from tests.factories import AgencySystem


def audit_entry(app: Flask, request_id: str) -> dict[str, Any]:
    """The stored entry of a request, as its canonical JSON (fails if there is none)."""
    with app.app_context():
        row = db.session.scalar(select(AuditEntry).where(AuditEntry.id == request_id))
        assert row is not None, f"no audit entry for request {request_id}"
        document: dict[str, Any] = json.loads(row.canonical)
        return document


def entries_count(app: Flask) -> int:
    with app.app_context():
        return len(db.session.scalars(select(AuditEntry.seq)).all())


@contextmanager
def configured(app: Flask, **settings: Any) -> Iterator[None]:
    """The app with these settings for the block, the earlier ones restored after it."""
    earlier = {name: app.config[name] for name in settings}
    app.config.update(settings)
    try:
        yield
    finally:
        app.config.update(earlier)


def load_migration(filename: str) -> ModuleType:
    """A migration module of migrations/versions, to call its data steps on a test database."""
    path = Path(__file__).resolve().parents[2] / "migrations" / "versions" / filename
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    return migration


def declared_over_limit(
    system: AgencySystem, path: str, *, content_type: str, limit: int
) -> tuple[int, dict[str, Any]]:
    """Status and JSON body of a POST that declares a body past ``limit`` and sends only its
    headers: the answer must come without the body, which the server never reads."""
    bundle = system.bundle_dir
    context = ssl.create_default_context(cafile=str(bundle / "ca.pem"))
    context.load_cert_chain(str(bundle / "client.pem"), str(bundle / "client.key.pem"))
    port = int(system.world.served_at().rsplit(":", 1)[1])
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        connection.putrequest("POST", path)
        connection.putheader("Content-Type", content_type)
        connection.putheader("Content-Length", str(limit + 1))
        connection.endheaders()
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()
