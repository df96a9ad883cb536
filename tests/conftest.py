"""Fixtures: an app on a database built by the migrations, and a real mTLS server.

``EXCHANGE_TEST_DATABASE_URL`` selects PostgreSQL (the suite runs on both in CI); the
default is a fresh SQLite file. The schema is always created by ``alembic upgrade head``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import create_engine, text

from exchange.serving import ExchangeServer
from tests.factories import World
from tests.isolated import initialised_app


def _fresh_postgres(url: str) -> None:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
        connection.execute(text("DROP FUNCTION IF EXISTS exchange_append_only() CASCADE"))
    engine.dispose()


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    instance = tmp_path_factory.mktemp("instance")
    url = os.environ.get("EXCHANGE_TEST_DATABASE_URL")
    if url:
        _fresh_postgres(url)
    else:
        url = f"sqlite:///{instance / 'exchange.db'}"
    yield initialised_app(instance, url)


@pytest.fixture(scope="session")
def server(app: Flask) -> Iterator[ExchangeServer]:
    exchange = ExchangeServer(app=app, host="127.0.0.1", api_port=0, ui_port=0, threads=8)
    exchange.start()
    yield exchange
    exchange.stop()


@pytest.fixture(scope="session")
def world(app: Flask, server: ExchangeServer, tmp_path_factory: pytest.TempPathFactory) -> World:
    """Agencies on the shared app, whose clients and bundles reach the shared server."""
    return World(
        app, tmp_path_factory.mktemp("bundles"), api_url=f"https://127.0.0.1:{server.api.port}"
    )


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture()
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture(scope="session")
def instance_path(app: Flask) -> Path:
    return Path(app.instance_path)
