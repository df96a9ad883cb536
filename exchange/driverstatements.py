"""Statements every request runs, compiled once and run on the database driver itself.

Through SQLAlchemy a short statement costs several times its own time on SQLite: an
execution context, events, parameter and result objects. The few that every API request
runs (its caller's identity, a record's state and key, a record's rows) skip that layer.
They are still written as SQLAlchemy Core, compiled by SQLAlchemy for each database, and
their values pass through the column types' own bind and result processors, so what they
write and read is what SQLAlchemy would. A write on SQLite first opens the transaction
with its lock taken, as every write through the engine does (``begin_immediate``).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Delete, Insert, Select, Update

from exchange.database import begin_immediate

Processor = Callable[[Any], Any] | None


@contextmanager
def on_driver(connection: Connection, sql: str, parameters: Any, *, writes: bool) -> Iterator[Any]:
    """The DBAPI connection under ``connection``, for running ``sql`` on it.

    A write on SQLite first takes the write lock (``begin_immediate``). The driver's
    errors are raised as SQLAlchemy raises them (an ``IntegrityError`` for a duplicate
    key, say), so that the same handlers answer them; a lost connection is invalidated.
    """
    dialect = connection.dialect
    driver = connection.connection.driver_connection
    try:
        if writes and dialect.name == "sqlite":
            begin_immediate(driver)
        yield driver
    except dialect.loaded_dbapi.Error as error:
        if dialect.is_disconnect(error, driver, None):
            connection.invalidate(error)
        raise DBAPIError.instance(
            sql, parameters, error, dialect.loaded_dbapi.Error, dialect=dialect
        ) from error


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # Positional drivers (SQLite) take values in this order; the others take a mapping.
    order: tuple[str, ...] | None
    binds: Mapping[str, Processor]
    results: tuple[Processor, ...]
    row: Any


class DriverStatement:
    """A Core statement run on the DBAPI connection underneath a SQLAlchemy connection.

    ``column_keys`` fixes the columns of an insert, as the parameters passed to it will
    name them. Selected rows come back as named tuples, with attribute access as
    SQLAlchemy's rows have.
    """

    def __init__(
        self, statement: Select[Any] | Insert | Update | Delete, *, column_keys: Sequence[str] = ()
    ) -> None:
        self.statement = statement
        self._column_keys = list(column_keys) or None
        self._writes = not isinstance(statement, Select)
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is not None:
            return compiled
        sql = self.statement.compile(dialect=dialect, column_keys=self._column_keys)
        binds = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for name, bind in sql.binds.items()
        }
        # A select's columns, or what a write returns.
        columns = list(self.statement.exported_columns)
        results = tuple(
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
        )
        names = [
            c.key if c.key and c.key.isidentifier() else f"column_{i}"
            for i, c in enumerate(columns)
        ]
        compiled = _Compiled(
            sql=sql.string,
            order=tuple(sql.positiontup) if sql.positional and sql.positiontup else None,
            binds=binds,
            results=results,
            row=namedtuple("Row", names, rename=True) if columns else None,
        )
        self._compiled[dialect.name] = compiled
        return compiled

    def _parameters(self, compiled: _Compiled, values: Mapping[str, Any]) -> Any:
        converted = {}
        for name, processor in compiled.binds.items():
            value = values[name]
            converted[name] = value if processor is None or value is None else processor(value)
        if compiled.order is None:
            return converted
        return tuple(converted[name] for name in compiled.order)

    def rows(self, connection: Connection, values: Mapping[str, Any]) -> list[Any]:
        """Run once; every row it returns."""
        compiled = self._compile(connection.dialect)
        parameters = self._parameters(compiled, values)
        with on_driver(connection, compiled.sql, parameters, writes=self._writes) as driver:
            fetched = driver.execute(compiled.sql, parameters).fetchall()
        if compiled.row is None:
            return []
        processors = compiled.results
        return [
            compiled.row._make(
                value if processor is None or value is None else processor(value)
                for processor, value in zip(processors, raw, strict=True)
            )
            for raw in fetched
        ]

    def first(self, connection: Connection, values: Mapping[str, Any]) -> Any:
        """Run once; the first row, or None."""
        rows = self.rows(connection, values)
        return rows[0] if rows else None

    def many(self, connection: Connection, values: Sequence[Mapping[str, Any]]) -> None:
        """Run once per mapping in ``values`` (no rows come back)."""
        if not values:
            return
        compiled = self._compile(connection.dialect)
        parameters = [self._parameters(compiled, v) for v in values]
        with on_driver(connection, compiled.sql, parameters, writes=self._writes) as driver:
            if connection.dialect.name == "sqlite":
                driver.executemany(compiled.sql, parameters)
            else:
                with driver.cursor() as cursor:
                    cursor.executemany(compiled.sql, parameters)
