"""A benchmark instance: the exchange's own setup, done by its own services.

An instance is an instance folder (vault, bundles) and a database. On SQLite the database
is a fresh file in the instance folder; on PostgreSQL it is a fresh schema in the given
database, put first on the search path through the connection URL, and dropped afterwards,
so a benchmark never touches tables it did not create.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from flask import Flask

from exchange import create_app
from exchange.agencies.provisioning import provision_agency_system
from exchange.cli.operator import operator_action
from exchange.extensions import db
from keys.jwk import PrivateSigningKey, public_jwk, thumbprint

PASSPHRASE = "benchmark passphrase"
# The project root, so that server processes find ``benchmarks`` wherever they run.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Caller:
    """One agency with one system: its client bundle and its record-signing key."""

    agency: str
    kind: str
    bundle_dir: Path
    signing_key: PrivateSigningKey

    @property
    def kid(self) -> str:
        return thumbprint(public_jwk(self.signing_key))

    @property
    def certificate(self) -> Path:
        return self.bundle_dir / "client.pem"

    @property
    def private_key(self) -> Path:
        return self.bundle_dir / "client.key.pem"

    @property
    def ca(self) -> Path:
        return self.bundle_dir / "ca.pem"


@dataclass
class Instance:
    root: Path
    database_url: str
    schema: str | None = None
    callers: dict[str, Caller] = field(default_factory=dict)
    # Where its servers import the exchange from: this project, or another revision's files.
    code: Path = PROJECT_ROOT

    @property
    def dialect(self) -> str:
        return "postgresql" if self.database_url.startswith("postgresql") else "sqlite"

    @property
    def sqlite_path(self) -> Path:
        return Path(self.database_url.removeprefix("sqlite:///"))

    def environment(self) -> dict[str, str]:
        """What a server process needs to find this instance."""
        env = dict(os.environ)
        env.update(
            {
                "EXCHANGE_INSTANCE_PATH": str(self.root),
                "EXCHANGE_DATABASE_URL": self.database_url,
                "EXCHANGE_KEY_PASSPHRASE": PASSPHRASE,
                "PYTHONPATH": os.pathsep.join(
                    p for p in (str(self.code), env.get("PYTHONPATH")) if p
                ),
            }
        )
        return env

    def app(self) -> Flask:
        return create_app(
            {
                "EXCHANGE_INSTANCE_PATH": str(self.root),
                "EXCHANGE_DATABASE_URL": self.database_url,
                "EXCHANGE_KEY_PASSPHRASE": PASSPHRASE,
            }
        )

    def connect_postgres(self) -> psycopg.Connection[Any]:
        """A psycopg connection whose search path is this instance's schema."""
        return psycopg.connect(libpq_url(self.database_url))


def libpq_url(url: str) -> str:
    """A SQLAlchemy-style ``postgresql[+psycopg]://`` URL as libpq understands it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _with_search_path(url: str, schema: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-csearch_path={schema}"))
    return urlunsplit(parts._replace(query=urlencode(query)))


def postgres_reachable(url: str, *, timeout: int = 3) -> str | None:
    """None when a connection succeeds, else why it did not."""
    try:
        with psycopg.connect(libpq_url(url), connect_timeout=timeout) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as error:
        return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return None


def create_instance(root: Path, database_url: str | None) -> Instance:
    """Instance folder, database (by the migrations), vault and default policy."""
    root.mkdir(parents=True, exist_ok=True)
    if database_url:
        schema = f"bench_{os.getpid()}_{secrets.token_hex(3)}"
        with psycopg.connect(libpq_url(database_url), autocommit=True) as connection:
            connection.execute(f'CREATE SCHEMA "{schema}"')
        instance = Instance(root, _with_search_path(database_url, schema), schema)
    else:
        instance = Instance(root, f"sqlite:///{root / 'exchange.db'}")
    app = instance.app()
    from exchange.cli.server import initialise

    with app.app_context():
        initialise()
        db.session.remove()
        db.engine.dispose()
    return instance


def drop_instance(instance: Instance) -> None:
    """Remove a PostgreSQL instance's schema; the folder is the caller's to remove."""
    if instance.schema is None:
        return
    with psycopg.connect(libpq_url(instance.database_url), autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{instance.schema}" CASCADE')


def add_caller(instance: Instance, app: Flask, agency_id: str, kind: str) -> Caller:
    """An agency with a ``gateway`` system, its client bundle and a registered signing key."""
    with app.app_context():
        with operator_action("agency.create", agency=agency_id) as action:
            provisioned = provision_agency_system(
                actor=action.actor,
                agency_id=agency_id,
                kind=kind,
                name_ja=f"{agency_id} 庁",
                name_en=f"{agency_id} agency",
                bundle_dir=instance.root / "bundles" / agency_id,
                api_url="https://127.0.0.1:0",
            )
        db.session.remove()
    caller = Caller(agency_id, kind, provisioned.bundle_dir, provisioned.signing_key)
    instance.callers[agency_id] = caller
    return caller


def populate(instance: Instance) -> None:
    """A publishing agency (immigration) and a reading agency (police)."""
    app = instance.app()
    add_caller(instance, app, "bench-isa", "immigration")
    add_caller(instance, app, "bench-npa", "police")
    with app.app_context():
        db.engine.dispose()
