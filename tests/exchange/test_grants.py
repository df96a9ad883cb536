"""PostgreSQL: the role ``exchange grant-app-role`` prepares serves the whole exchange, and
cannot change the log even without the triggers."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from sqlalchemy import text

from audit.checkpoint import Checkpoint
from audit.note import open_note
from exchange.extensions import db
from exchange.feeds.running import build_worker
from exchange.grants import APPEND, READ_WRITE, table_privileges
from exchange.pki.vault import load_vault
from exchange.trail.integrator_process import build_integrator, log_origin
from tests.exchange.push_receiver import start_receiver
from tests.factories import World
from tests.isolated import isolated_app, owner_app, serving_role

URL = os.environ.get("EXCHANGE_TEST_DATABASE_URL", "")

pytestmark = pytest.mark.skipif(
    not URL.startswith("postgresql"), reason="database roles are a PostgreSQL feature"
)

PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


@pytest.fixture()
def fresh(tmp_path: Path) -> Iterator[Flask]:
    with isolated_app(tmp_path / "instance") as app:
        yield app


def scalars(app: Flask, statement: str, **params: object) -> list[object]:
    with app.app_context():
        found = list(db.session.execute(text(statement), params).scalars())
        db.session.remove()
    return found


def _connect(app: Flask) -> psycopg.Connection:
    with app.app_context():
        url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(url)


class TestDerivedGrants:
    def test_the_suite_serves_as_a_role_that_owns_nothing(self, app: Flask) -> None:
        role = serving_role(URL)
        assert scalars(app, "SELECT current_user") == [role]
        assert scalars(app, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == [False]
        owned = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
        assert scalars(app, owned + "AND tableowner = current_user") == []

    def test_every_table_the_migrations_create_has_a_model(self, app: Flask) -> None:
        tables = scalars(app, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        assert set(tables) == set(table_privileges()) | {"alembic_version"}

    def test_the_append_only_tables_are_those_the_triggers_guard(self, app: Flask) -> None:
        guarded = scalars(
            app,
            "SELECT DISTINCT tgrelid::regclass::text FROM pg_trigger "
            "WHERE tgfoid = 'exchange_append_only'::regproc",
        )
        append_only = {name for name, granted in table_privileges().items() if granted == APPEND}
        assert set(guarded) == append_only
        assert {"audit_entry", "audit_leaf", "audit_checkpoint", "record_version"} <= append_only

    def test_the_role_holds_exactly_the_derived_privileges(self, app: Flask) -> None:
        role = serving_role(URL)
        for table, granted in table_privileges().items():
            expected = set(granted.split(", "))
            held = {
                privilege
                for privilege in PRIVILEGES
                if scalars(
                    app, "SELECT has_table_privilege(:r, :t, :p)", r=role, t=table, p=privilege
                )
                == [True]
            }
            assert held == expected, table
        assert set(READ_WRITE.split(", ")) > set(APPEND.split(", "))


class TestGrantedRole:
    def test_it_publishes_is_integrated_and_delivers_but_cannot_change_the_log(
        self, fresh: Flask, tmp_path: Path
    ) -> None:
        role = serving_role(URL)
        with owner_app(fresh) as owner:
            result = owner.test_cli_runner().invoke(args=["grant-app-role", role])
        assert result.exit_code == 0, result.output
        statements = [line.split(" ON ") for line in result.output.splitlines() if " ON " in line]
        assert [
            "GRANT SELECT, INSERT",
            f"{fresh_schema(fresh)}.audit_entry TO {role}",
        ] in statements

        world = World(fresh, tmp_path / "bundles")
        publisher, subscriber = world.agency("immigration"), world.agency("police")
        receiver = start_receiver(fresh, tmp_path / "receiver")
        try:
            client = fresh.test_client()
            subscribed = client.post(
                "/api/v1/subscriptions",
                json={
                    "name": "push",
                    "types": ["broker"],
                    "mode": "push",
                    "endpoint": receiver.endpoint,
                },
                environ_base=subscriber.environ(),
            )
            assert subscribed.status_code == 201, subscribed.json
            ids = []
            for _ in range(3):
                envelope = publisher.envelope("broker")
                published = client.post(
                    "/api/v1/records",
                    json=publisher.submission(envelope),
                    environ_base=publisher.environ(),
                )
                assert published.status_code == 201, published.json
                ids.append(envelope["id"])
            with fresh.app_context():
                integration = build_integrator(fresh).integrate(checkpoint=True)
                verifier = load_vault().log_signer(log_origin(fresh)).verifier()
                db.session.remove()
            assert integration.checkpoint == integration.size > 0

            note = client.get("/api/v1/audit/checkpoint", environ_base=publisher.environ())
            assert note.status_code == 200
            checkpoint = Checkpoint.parse(open_note(note.data, verifiers=[verifier]).text)
            assert checkpoint.size == integration.size

            worker = build_worker(fresh)
            deadline = time.monotonic() + 30
            with fresh.app_context():
                while receiver.received_ids() != ids:
                    assert time.monotonic() < deadline, "push deliveries did not arrive"
                    if not worker.deliver_one():
                        time.sleep(0.05)
                db.session.remove()
        finally:
            receiver.stop()

        with _connect(fresh) as connection:
            assert connection.execute("SELECT current_user").fetchone() == (role,)
            connection.execute("UPDATE record SET status = status WHERE false")
            connection.execute("DELETE FROM record_tag WHERE false")
            # A disposal empties canonical (the trigger checks a disposal row names the version).
            connection.execute("UPDATE record_version SET canonical = canonical WHERE false")
            connection.commit()
            for table, granted in table_privileges().items():
                if granted != APPEND:
                    continue
                for statement in (
                    f"UPDATE {table} SET {_first_column(fresh, table)} = "
                    f"{_first_column(fresh, table)} WHERE false",
                    f"DELETE FROM {table} WHERE false",
                    f"TRUNCATE {table}",
                ):
                    with pytest.raises(psycopg.errors.InsufficientPrivilege):
                        connection.execute(statement)
                    connection.rollback()

    def test_an_unknown_role_is_refused(self, app: Flask) -> None:
        with owner_app(app) as owner:
            result = owner.test_cli_runner().invoke(args=["grant-app-role", "no_such_role_here"])
        assert result.exit_code == 1
        assert "No such role" in result.output


def fresh_schema(app: Flask) -> str:
    return str(scalars(app, "SELECT current_schema()")[0])


def _first_column(app: Flask, table: str) -> str:
    with app.app_context():
        column = next(iter(db.metadata.tables[table].columns))
    return column.name
