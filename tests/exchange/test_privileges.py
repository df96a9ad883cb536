"""PostgreSQL: the application's role cannot change the log, even without the triggers."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

URL = os.environ.get("EXCHANGE_TEST_DATABASE_URL", "")

pytestmark = pytest.mark.skipif(
    not URL.startswith("postgresql"), reason="database roles are a PostgreSQL feature"
)


@pytest.fixture()
def app_role() -> Iterator[str]:
    role = f"exchange_app_{secrets.token_hex(3)}"
    with psycopg.connect(URL, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN")
    yield role
    with psycopg.connect(URL, autocommit=True) as admin:
        admin.execute(f"DROP OWNED BY {role}")
        admin.execute(f"DROP ROLE {role}")


class TestApplicationRole:
    def test_log_tables_take_inserts_only(
        self, app: Flask, runner: FlaskCliRunner, app_role: str
    ) -> None:
        result = runner.invoke(args=["grant-app-role", app_role])
        assert result.exit_code == 0, result.output
        with psycopg.connect(URL, user=app_role) as connection:
            assert connection.execute("SELECT count(*) FROM audit_entry").fetchone()
            connection.execute("UPDATE record SET status = status WHERE false")
            connection.commit()
            for statement in (
                "UPDATE audit_entry SET canonical = canonical WHERE false",
                "UPDATE audit_leaf SET action = action WHERE false",
                "DELETE FROM audit_hash WHERE false",
                "DELETE FROM audit_checkpoint WHERE false",
                "DELETE FROM audit_entry WHERE false",
                "DELETE FROM record_version WHERE false",
                "TRUNCATE audit_target",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    connection.execute(statement)
                connection.rollback()

    def test_unknown_role_is_refused(self, runner: FlaskCliRunner) -> None:
        result = runner.invoke(args=["grant-app-role", "no_such_role_here"])
        assert result.exit_code == 1
        assert "No such role" in result.output
