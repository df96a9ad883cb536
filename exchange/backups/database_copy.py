"""Consistent copies of the database: SQLite's online backup, PostgreSQL's ``pg_dump``.

The PostgreSQL tools get the connection from libpq's environment and a password file of
their own (mode 0600), never from their command line, which other users can read.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import URL, Engine

SQLITE_FILE = "database.sqlite3"
POSTGRESQL_FILE = "database.pgdump"

# Connection parameters a URL may carry, as libpq reads them from the environment.
_LIBPQ_PARAMETERS = {
    "options": "PGOPTIONS",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL",
    "application_name": "PGAPPNAME",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
}


class CopyFailed(Exception):
    """The database could not be copied or restored; the message says why."""


def database_file(kind: str) -> str:
    return SQLITE_FILE if kind == "sqlite" else POSTGRESQL_FILE


def copy_database(engine: Engine, target: Path) -> None:
    """Write a consistent copy of the engine's database to ``target``."""
    if engine.dialect.name == "sqlite":
        _sqlite_backup(_sqlite_path(engine.url), target)
    else:
        _run_tool("pg_dump", engine.url, ["--format=custom", f"--file={target}"])


def restore_database(engine: Engine, source: Path) -> None:
    """Load a copy made by :func:`copy_database` into the engine's (empty) database."""
    if engine.dialect.name == "sqlite":
        engine.dispose()
        _sqlite_backup(source, _sqlite_path(engine.url))
    else:
        # Ownership and grants belong to the target cluster's roles: the operator grants
        # the serving role afterwards (``exchange grant-app-role``).
        _run_tool(
            "pg_restore",
            engine.url,
            [
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                # Only the name: host, user and password come from the environment.
                f"--dbname={engine.url.database}",
                str(source),
            ],
        )


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise CopyFailed("an in-memory SQLite database has nothing to back up")
    return Path(url.database)


def _sqlite_backup(source: Path, target: Path) -> None:
    # The online backup API copies a consistent snapshot page by page while other
    # connections keep writing; it reads the WAL as well as the main file.
    reader = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    try:
        writer = sqlite3.connect(target)
        try:
            reader.backup(writer)
            writer.execute("PRAGMA journal_mode=WAL")
        finally:
            writer.close()
    finally:
        reader.close()


@contextmanager
def _libpq_environment(url: URL) -> Iterator[dict[str, str]]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("PG")}
    for name, part in (
        ("PGHOST", url.host),
        ("PGPORT", url.port),
        ("PGUSER", url.username),
        ("PGDATABASE", url.database),
    ):
        if part is not None:
            environment[name] = str(part)
    for key, value in url.query.items():
        variable = _LIBPQ_PARAMETERS.get(key)
        if variable is None:
            raise CopyFailed(
                f"the database URL's parameter {key!r} cannot be passed to {url.drivername}'s tools"
            )
        environment[variable] = value if isinstance(value, str) else value[-1]
    with tempfile.TemporaryDirectory(prefix="exchange-pg-") as folder:
        if url.password is not None:
            passfile = Path(folder) / "pgpass"
            descriptor = os.open(passfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(f"*:*:*:*:{_pgpass_escape(str(url.password))}\n")
            environment["PGPASSFILE"] = str(passfile)
        yield environment


def _pgpass_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


def _run_tool(tool: str, url: URL, arguments: list[str]) -> None:
    program = shutil.which(tool)
    if program is None:
        raise CopyFailed(f"{tool} is not installed (PostgreSQL's client tools)")
    with _libpq_environment(url) as environment:
        done = subprocess.run(  # noqa: S603
            [program, "--no-password", *arguments],
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise CopyFailed(f"{tool} failed: {last}")
