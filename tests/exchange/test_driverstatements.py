"""Statements run on the driver read and write exactly what SQLAlchemy would."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import (
    Boolean,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    bindparam,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from exchange.columns import UTCDateTime
from exchange.driverstatements import DriverStatement
from exchange.extensions import db

METADATA = MetaData()
SCRATCH = Table(
    "driver_statement_scratch",
    METADATA,
    Column("pk", Integer, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("at", UTCDateTime(), nullable=True),
    Column("flag", Boolean, nullable=False),
    Column("blob", LargeBinary, nullable=True),
)
COLUMNS = ("name", "at", "flag", "blob")
INSERT = DriverStatement(SCRATCH.insert(), column_keys=COLUMNS)
INSERT_RETURNING = DriverStatement(
    SCRATCH.insert().returning(SCRATCH.c.pk, SCRATCH.c.name), column_keys=COLUMNS
)
BY_NAME = DriverStatement(select(SCRATCH).where(SCRATCH.c.name == bindparam("name")))

ROWS: list[dict[str, Any]] = [
    {
        "name": "aware",
        "at": datetime(2026, 4, 1, 9, 30, 15, 123456, tzinfo=UTC),
        "flag": True,
        "blob": b"\x00\xffbytes",
    },
    {
        "name": "tokyo time",
        "at": datetime(2026, 4, 1, 18, 30, tzinfo=timezone(timedelta(hours=9))),
        "flag": False,
        "blob": b"",
    },
    {"name": "nulls", "at": None, "flag": False, "blob": None},
]


@pytest.fixture()
def connection(app: Flask) -> Iterator[Connection]:
    with app.app_context():
        with db.engine.connect() as connection:
            METADATA.create_all(connection)
            connection.commit()
            try:
                yield connection
            finally:
                connection.rollback()
                METADATA.drop_all(connection)
                connection.commit()


def _stored(connection: Connection) -> list[tuple[Any, ...]]:
    """The rows as the database holds them, not as SQLAlchemy converts them."""
    return list(
        connection.exec_driver_sql(
            "SELECT name, CAST(at AS TEXT), flag, blob FROM driver_statement_scratch ORDER BY name"
        )
    )


def test_rows_written_on_the_driver_are_stored_as_sqlalchemy_stores_them(
    connection: Connection,
) -> None:
    INSERT.many(connection, ROWS)
    connection.commit()
    by_driver = _stored(connection)
    connection.execute(SCRATCH.delete())
    connection.execute(SCRATCH.insert(), ROWS)
    connection.commit()
    assert _stored(connection) == by_driver


def test_rows_read_on_the_driver_are_the_values_sqlalchemy_reads(connection: Connection) -> None:
    connection.execute(SCRATCH.insert(), ROWS)
    connection.commit()
    for row in ROWS:
        found = BY_NAME.first(connection, {"name": row["name"]})
        expected = connection.execute(BY_NAME.statement, {"name": row["name"]}).one()
        assert tuple(found) == tuple(expected)
        assert found.at == row["at"]
        if found.at is not None:
            assert found.at.tzinfo == UTC
        assert found.flag is row["flag"]
        assert found.blob == row["blob"]
    assert BY_NAME.first(connection, {"name": "absent"}) is None


def test_a_write_returns_what_it_is_asked_for(connection: Connection) -> None:
    returned = INSERT_RETURNING.rows(connection, ROWS[0])
    assert [(r.name, type(r.pk)) for r in returned] == [("aware", int)]
    stored = connection.execute(select(SCRATCH.c.pk).where(SCRATCH.c.name == "aware")).scalar()
    assert returned[0].pk == stored


def test_a_missing_value_is_refused_before_anything_is_sent(connection: Connection) -> None:
    with pytest.raises(KeyError):
        INSERT.many(connection, [{"name": "incomplete", "flag": True}])
    assert connection.execute(text("SELECT count(*) FROM driver_statement_scratch")).scalar() == 0


def test_a_refused_statement_raises_as_sqlalchemy_raises(connection: Connection) -> None:
    """So that the same problem handlers answer it (409, not a 500)."""
    with pytest.raises(IntegrityError) as refused, connection.begin():
        INSERT.many(connection, ROWS[:1])
        INSERT.many(connection, ROWS[:1])
    assert "INSERT INTO driver_statement_scratch" in str(refused.value.statement)
    with pytest.raises(IntegrityError), connection.begin():
        INSERT_RETURNING.rows(connection, {**ROWS[0], "name": None})
    assert connection.execute(text("SELECT count(*) FROM driver_statement_scratch")).scalar() == 0


def test_a_write_on_sqlite_takes_the_write_lock_at_once(connection: Connection) -> None:
    if connection.dialect.name != "sqlite":
        pytest.skip("SQLite's transactions only")
    driver: Any = connection.connection.driver_connection
    assert not driver.in_transaction
    INSERT.many(connection, ROWS[:1])
    assert driver.in_transaction
    # Taken at BEGIN IMMEDIATE: a second writer is refused at once, not at commit.
    other = sqlite3.connect(str(connection.engine.url.database), timeout=0)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()
