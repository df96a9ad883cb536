"""An exchange of its own, for tests that break what the shared one relies on.

On PostgreSQL it lives in a fresh schema of the test database, dropped afterwards; on
SQLite in a fresh file. The schema is built by the migrations, as for the shared app.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Flask
from sqlalchemy import create_engine, text

from exchange import create_app
from exchange.extensions import db


def _engine(url: str):  # type: ignore[no-untyped-def]
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def _with_search_path(url: str, schema: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-csearch_path={schema}"))
    return urlunsplit(parts._replace(query=urlencode(query)))


def initialised_app(root: Path, url: str, **config: object) -> Flask:
    """An app on ``url`` with the instance folder ``root``, set up as ``exchange init`` does."""
    app = create_app(
        {
            "TESTING": True,
            "EXCHANGE_INSTANCE_PATH": str(root),
            "EXCHANGE_DATABASE_URL": url,
            "EXCHANGE_KEY_PASSPHRASE": "test passphrase",
            **config,
        }
    )
    from exchange.cli.server import initialise

    with app.app_context():
        initialise()
        db.session.remove()
    return app


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
