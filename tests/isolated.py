"""An exchange of its own, for tests that break what the shared one relies on.

On PostgreSQL it lives in a fresh schema of the test database, dropped afterwards, and
serves as the least-privileged role that ``exchange grant-app-role`` prepares; on SQLite
in a fresh file. The schema is built by the migrations, run as the owner.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection

from exchange import create_app
from exchange.extensions import db
from exchange.grants import grant_application_role


def _engine(url: str):  # type: ignore[no-untyped-def]
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def _with_search_path(url: str, schema: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-csearch_path={schema}"))
    return urlunsplit(parts._replace(query=urlencode(query)))


def serving_role(url: str) -> str:
    """The role the suite serves as: one per test database, so parallel suites keep apart."""
    return f"{urlsplit(url).path.lstrip('/')}_serving"


def _with_user(url: str, user: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


def owner_url(app: Flask) -> str:
    """The app's database as the schema's owner, who ran the migrations."""
    url = str(app.config["EXCHANGE_DATABASE_URL"])
    owner = os.environ.get("EXCHANGE_TEST_DATABASE_URL")
    if not url.startswith("postgresql") or not owner:
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=urlsplit(owner).netloc))


@contextmanager
def owner_connection(app: Flask) -> Iterator[Connection]:
    """A connection with the owner's rights, committed at the end: for what the serving
    role may not do (DDL, an attacker rewriting the log)."""
    engine = _engine(owner_url(app))
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


@contextmanager
def owner_app(app: Flask) -> Iterator[Flask]:
    """``app``'s exchange as its operator runs commands that need the owner's rights."""
    owner = _create(Path(app.instance_path), owner_url(app), {})
    try:
        yield owner
    finally:
        with owner.app_context():
            db.session.remove()
            db.engine.dispose()


def _grant_serving_role(url: str) -> str:
    role = serving_role(url)
    engine = _engine(url)
    with engine.begin() as connection:
        exists = connection.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
        if exists is None:
            connection.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        grant_application_role(connection, role)
    engine.dispose()
    return _with_user(url, role)


def _create(root: Path, url: str, config: dict[str, Any]) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "EXCHANGE_INSTANCE_PATH": str(root),
            "EXCHANGE_DATABASE_URL": url,
            "EXCHANGE_KEY_PASSPHRASE": "test passphrase",
            **config,
        }
    )


def initialised_app(root: Path, url: str, **config: object) -> Flask:
    """An app on ``url`` with the instance folder ``root``, set up as ``exchange init`` does.

    On PostgreSQL the owner initialises, then the app connects as the serving role, so that
    a table the role has no grant for fails the tests.
    """
    from exchange.cli.server import initialise

    app = _create(root, url, config)
    with app.app_context():
        initialise()
        db.session.remove()
        db.engine.dispose()
    if not url.startswith("postgresql"):
        return app
    return _create(root, _grant_serving_role(url), config)


@contextmanager
def isolated_app(root: Path, **config: object) -> Iterator[Flask]:
    url = os.environ.get("EXCHANGE_TEST_DATABASE_URL")
    schema = None
    if url:
        schema = f"t_{secrets.token_hex(4)}"
        engine = _engine(url)
        with engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine.dispose()
        url = _with_search_path(url, schema)
    else:
        url = f"sqlite:///{root / 'exchange.db'}"
    app = initialised_app(root, url, **config)
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if schema is not None:
            engine = _engine(os.environ["EXCHANGE_TEST_DATABASE_URL"])
            with engine.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            engine.dispose()
