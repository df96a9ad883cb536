"""Backup and restore: a restored exchange proves it extends its backup's checkpoint, and a
witness that cosigned more than an older backup holds refuses it until the newer one is back.

On PostgreSQL (``EXCHANGE_TEST_DATABASE_URL``) each instance gets a database of its own,
named after the test database, so ``pg_dump`` and ``pg_restore`` see whole databases.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from sqlalchemy import create_engine, make_url, text

from exchange import create_app
from exchange.client.auditlog import ForkDetected, Witness
from exchange.extensions import db
from exchange.serving import ExchangeServer
from exchange.trail.integrator_process import build_integrator
from tests.factories import AgencySystem, World
from tests.isolated import initialised_app

PASSPHRASE = "test passphrase"


def _admin_engine(url: str):  # type: ignore[no-untyped-def]
    return create_engine(
        url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )


@pytest.fixture()
def database_url(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """A fresh, empty database per name: a SQLite file, or a PostgreSQL database."""
    base = os.environ.get("EXCHANGE_TEST_DATABASE_URL")
    created: list[str] = []

    def fresh(name: str) -> str:
        if not base:
            return f"sqlite:///{tmp_path / name / 'exchange.db'}"
        database = f"{make_url(base).database}_{name}"
        engine = _admin_engine(base)
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{database}"'))
        engine.dispose()
        created.append(database)
        return make_url(base).set(database=database).render_as_string(hide_password=False)

    yield fresh
    if created:
        engine = _admin_engine(str(base))
        with engine.connect() as connection:
            for database in created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
                # The serving role tests.isolated made for the database, now owning nothing.
                connection.execute(text(f'DROP ROLE IF EXISTS "{database}_serving"'))
        engine.dispose()


def _empty_app(root: Path, url: str) -> Flask:
    root.mkdir(parents=True, exist_ok=True)
    return create_app(
        {
            "TESTING": True,
            "EXCHANGE_INSTANCE_PATH": str(root),
            "EXCHANGE_DATABASE_URL": url,
            "EXCHANGE_KEY_PASSPHRASE": PASSPHRASE,
        }
    )


def _integrate(app: Flask) -> int:
    with app.app_context():
        size = build_integrator(app).integrate(checkpoint=True).size
        db.session.remove()
    return size


def _cli(app: Flask, *arguments: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=list(arguments))
    return result.exit_code, result.output


def _dispose(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


class Serving:
    """An app served over mTLS, with the world's clients pointed at it."""

    def __init__(self, app: Flask, world: World) -> None:
        self.server = ExchangeServer(app=app, host="127.0.0.1", api_port=0, ui_port=0, threads=4)
        self.server.start()
        world.api_url = f"https://127.0.0.1:{self.server.api.port}"

    def stop(self) -> None:
        self.server.stop()


def _witness(system: AgencySystem, state: Path) -> Witness:
    assert isinstance(system.key, Ed25519PrivateKey)
    return Witness(system.client(), state_path=state, name=system.agency, key=system.key)


def test_a_witness_detects_an_older_restore_until_the_newer_backup_is_restored(
    tmp_path: Path, database_url: Callable[[str], str]
) -> None:
    original = initialised_app(tmp_path / "original", database_url("original"))
    world = World(original, tmp_path / "bundles")
    serving = Serving(original, world)
    try:
        police = world.agency("police")
        witness_agency = world.agency("mofa")
        state = tmp_path / "witness.json"
        with police.client() as exchange:
            exchange.publish(police.envelope())
        _integrate(original)
        first = _witness(witness_agency, state).run_once()
        status, output = _cli(original, "backup", str(tmp_path / "older"))
        assert status == 0, output
        with police.client() as exchange:
            exchange.publish(police.envelope())
        _integrate(original)
        second = _witness(witness_agency, state).run_once()
        assert second.size > first.size
        status, output = _cli(original, "backup", str(tmp_path / "newer"))
        assert status == 0, output
    finally:
        serving.stop()
    manifest = json.loads((tmp_path / "older" / "manifest.json").read_text())
    assert manifest["checkpoint"]["size"] == first.size
    assert "passphrase" not in " ".join(manifest["files"])
    assert manifest["files"]["keys/log.key.pem"]

    status, output = _cli(original, "restore", str(tmp_path / "older"))
    assert status == 1 and "already holds keys" in output
    _dispose(original)

    restored = _empty_app(tmp_path / "restored", database_url("restored"))
    status, output = _cli(restored, "restore", str(tmp_path / "older"))
    assert status == 0, output
    assert f"extends the backup's checkpoint {first.size}" in output
    status, output = _cli(restored, "audit", "verify")
    assert status == 0, output
    serving = Serving(restored, world)
    try:
        with pytest.raises(ForkDetected, match="the log shrank"):
            _witness(witness_agency, state).run_once()
    finally:
        serving.stop()
    _dispose(restored)

    renewed = _empty_app(tmp_path / "renewed", database_url("renewed"))
    status, output = _cli(renewed, "restore", str(tmp_path / "newer"))
    assert status == 0, output
    serving = Serving(renewed, world)
    try:
        resumed = _witness(witness_agency, state).run_once()
    finally:
        serving.stop()
    _dispose(renewed)
    assert resumed.previous == second.size and resumed.size >= second.size


def test_a_used_database_or_a_tampered_backup_is_refused_before_anything_is_restored(
    tmp_path: Path, database_url: Callable[[str], str]
) -> None:
    used = database_url("original")
    original = initialised_app(tmp_path / "original", used)
    status, output = _cli(original, "backup", str(tmp_path / "copy"))
    assert status == 0, output
    status, output = _cli(original, "backup", str(tmp_path / "copy"))
    assert status == 1 and "not an empty folder" in output
    _dispose(original)
    # A new instance folder over a database in use: its tables refuse the restore.
    beside = _empty_app(tmp_path / "beside", used)
    status, output = _cli(beside, "restore", str(tmp_path / "copy"))
    assert status == 1 and "restore into an empty database" in output
    assert not (tmp_path / "beside" / "keys" / "ca.pem").exists()
    _dispose(beside)
    with (tmp_path / "copy" / "keys" / "ca.pem").open("a") as handle:
        handle.write("\n")
    restored = _empty_app(tmp_path / "restored", database_url("restored"))
    status, output = _cli(restored, "restore", str(tmp_path / "copy"))
    assert status == 1 and "keys/ca.pem does not match its SHA-256" in output
    assert not (tmp_path / "restored" / "keys" / "ca.pem").exists()
    _dispose(restored)


def test_the_database_password_reaches_pg_dump_in_a_private_file_not_its_arguments(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from exchange.backups import database_copy

    seen: dict[str, object] = {}

    def run(arguments: list[str], **options: object) -> object:
        environment = options["env"]
        assert isinstance(environment, dict)
        passfile = Path(environment["PGPASSFILE"])
        seen.update(
            arguments=arguments,
            environment=environment,
            passfile=passfile.read_text(),
            mode=passfile.stat().st_mode & 0o777,
        )
        return type("Done", (), {"returncode": 0, "stderr": ""})()

    monkeypatch.setattr("exchange.backups.database_copy.shutil.which", lambda tool: tool)
    monkeypatch.setattr("exchange.backups.database_copy.subprocess.run", run)
    engine = create_engine(
        "postgresql+psycopg://exchange:s3cr%3At@db.example:5433/exchange?sslmode=verify-full"
    )
    database_copy.copy_database(engine, tmp_path / "database.pgdump")
    environment = seen["environment"]
    assert isinstance(environment, dict)
    assert not any("s3cr" in argument for argument in seen["arguments"])  # type: ignore[attr-defined]
    assert seen["passfile"] == "*:*:*:*:s3cr\\:t\n" and seen["mode"] == 0o600
    assert (environment["PGHOST"], environment["PGPORT"], environment["PGUSER"]) == (
        "db.example",
        "5433",
        "exchange",
    )
    assert environment["PGDATABASE"] == "exchange" and environment["PGSSLMODE"] == "verify-full"
    assert "PGPASSWORD" not in environment
