"""The audit log: one entry per request, in its transaction, append-only in the database."""

from __future__ import annotations

import json
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from exchange.extensions import db
from exchange.trail import recorder
from exchange.trail.access_trails import RESOURCE_ACTIONS
from exchange.trail.integrator_process import build_integrator
from exchange.trail.models import AuditEntry
from keys.jcs import canonicalize
from tests.exchange.helpers import audit_entry
from tests.factories import World
from tests.isolated import owner_connection


class TestAppendOnly:
    @pytest.mark.parametrize(
        "table",
        [
            "audit_entry",
            "audit_leaf",
            "audit_target",
            "audit_hash",
            "audit_checkpoint",
            "record_version",
            "policy_version",
        ],
    )
    def test_update_and_delete_are_refused_by_the_database(
        self, app: Flask, world: World, table: str
    ) -> None:
        caller = world.agency("police")
        # One published record, integrated, puts rows in every append-only table.
        response = app.test_client().post(
            "/api/v1/records",
            json=caller.submission(caller.envelope("broker")),
            environ_base=caller.environ(),
        )
        assert response.status_code == 201
        with app.app_context():
            build_integrator(app).integrate(checkpoint=True)
            for statement in (
                f"UPDATE {table} SET {_column(table)} = {_column(table)}",
                f"DELETE FROM {table}",
            ):
                with pytest.raises(DBAPIError):
                    db.session.execute(text(statement))
                    db.session.flush()
                db.session.rollback()

    def test_entries_hold_their_canonical_bytes(self, app: Flask, client: FlaskClient) -> None:
        response = client.get("/pki/ca.pem")
        with app.app_context():
            row = (
                db.session.query(AuditEntry)
                .filter_by(id=response.headers["Exchange-Request-Id"])
                .one()
            )
            assert canonicalize(json.loads(row.canonical)) == row.canonical


def _column(table: str) -> str:
    return {
        "audit_entry": "canonical",
        "audit_leaf": "action",
        "audit_target": "version",
        "audit_hash": "hash",
        "audit_checkpoint": "note",
        "record_version": "status",
        "policy_version": "note",
    }[table]


class TestEveryRouteIsAudited:
    def test_every_route_writes_an_entry(self, app: Flask, world: World) -> None:
        caller = world.agency("police")
        client = app.test_client()
        routes = [rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"]
        assert len(routes) >= 12
        for rule in routes:
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", "x", rule.rule)
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                for environ in ({}, caller.environ()):
                    response = client.open(
                        path,
                        method=method,
                        environ_base=environ,
                        headers={"Exchange-Purpose": "audit"},
                    )
                    request_id = response.headers.get("Exchange-Request-Id")
                    assert request_id, f"{method} {path} answered without an audit entry"
                    entry = audit_entry(app, request_id)
                    assert entry["request"] == {"method": method, "path": path}
                    # Static resources are audited as one action of their own.
                    assert (
                        not entry["action"].startswith("request.")
                        or entry["action"] in RESOURCE_ACTIONS
                    ), f"{rule.endpoint} has no audit action"

    def test_unknown_routes_and_methods_are_audited(self, app: Flask, client: FlaskClient) -> None:
        for response in (client.get("/nowhere"), client.delete("/pki/ca.pem")):
            assert response.headers["Content-Type"] == "application/problem+json"
            assert (
                audit_entry(app, response.headers["Exchange-Request-Id"])["action"]
                == recorder.UNROUTED
            )


class TestFailClosed:
    def test_a_request_whose_entry_cannot_be_written_fails_and_leaves_nothing(
        self, app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        caller = world.agency("police")
        envelope = caller.envelope("broker")

        def broken(**kwargs: object) -> int:
            raise RuntimeError("disk full")

        monkeypatch.setattr(recorder, "append_entry", broken)
        response = app.test_client().post(
            "/api/v1/records", json=caller.submission(envelope), environ_base=caller.environ()
        )
        assert response.status_code == 503
        assert response.get_json()["code"] == "audit_unavailable"
        monkeypatch.undo()
        read = app.test_client().get(
            f"/api/v1/records/{envelope['id']}",
            environ_base=caller.environ(),
            headers={"Exchange-Purpose": "audit"},
        )
        assert read.status_code == 404

    @pytest.mark.parametrize("path", ["/api/v1/records", "read"])
    def test_an_entry_the_database_refuses_fails_the_request(
        self, app: Flask, world: World, path: str
    ) -> None:
        caller = world.agency("police")
        stored = caller.envelope("broker")
        published = app.test_client().post(
            "/api/v1/records", json=caller.submission(stored), environ_base=caller.environ()
        )
        assert published.status_code == 201
        envelope = caller.envelope("broker")
        _refuse_entries(app, refuse=True)
        try:
            client = app.test_client()
            if path == "read":
                response = client.get(
                    f"/api/v1/records/{stored['id']}",
                    environ_base=caller.environ(),
                    headers={"Exchange-Purpose": "audit"},
                )
            else:
                response = client.post(
                    path, json=caller.submission(envelope), environ_base=caller.environ()
                )
        finally:
            _refuse_entries(app, refuse=False)
        assert response.status_code == 503
        assert response.get_json()["code"] == "audit_unavailable"
        read = app.test_client().get(
            f"/api/v1/records/{envelope['id']}",
            environ_base=caller.environ(),
            headers={"Exchange-Purpose": "audit"},
        )
        assert read.status_code == 404


def _refuse_entries(app: Flask, *, refuse: bool) -> None:
    """A trigger that makes the database itself refuse every new audit entry; creating
    it takes the owner's rights."""
    with owner_connection(app) as connection:
        for statement in _refusal_statements(connection.dialect.name, refuse=refuse):
            connection.execute(text(statement))


def _refusal_statements(dialect: str, *, refuse: bool) -> list[str]:
    if dialect == "sqlite":
        statements = (
            [
                "CREATE TRIGGER refuse_entries BEFORE INSERT ON audit_entry "
                "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            ]
            if refuse
            else ["DROP TRIGGER refuse_entries"]
        )
    else:
        statements = (
            [
                "CREATE FUNCTION refuse_entries() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$",
                "CREATE TRIGGER refuse_entries BEFORE INSERT ON audit_entry "
                "FOR EACH ROW EXECUTE FUNCTION refuse_entries()",
            ]
            if refuse
            else [
                "DROP TRIGGER refuse_entries ON audit_entry",
                "DROP FUNCTION refuse_entries()",
            ]
        )
    return statements
