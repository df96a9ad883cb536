"""PostgreSQL privileges of the role the exchange serves as, derived from the models (DESIGN §9).

Migrations run as the schema's owner. The serving role may read and write every table the
models define, except those marked append-only (``exchange.columns.append_only``): the audit
log and the signed versions, where it may only SELECT and INSERT. The triggers refuse UPDATE
and DELETE too; the missing privilege is the second lock, which holds if a trigger is dropped.
"""

from __future__ import annotations

from sqlalchemy import Table, func, select, text
from sqlalchemy.engine import Connection

from exchange.extensions import db
from exchange.models import register
from exchange.problems import Problem

READ_WRITE = "SELECT, INSERT, UPDATE, DELETE"
APPEND = "SELECT, INSERT"


def is_append_only(table: Table) -> bool:
    return bool(table.info.get("append_only"))


def table_privileges() -> dict[str, str]:
    """What the serving role may do on each of the models' tables, by table name."""
    register()
    return {
        table.name: APPEND if is_append_only(table) else READ_WRITE
        for table in db.metadata.sorted_tables
    }


def disposable_columns() -> dict[str, tuple[str, ...]]:
    """Columns of append-only tables the role may UPDATE, each under a trigger's condition
    (a disposal empties ``record_version.canonical`` where ``record_disposal`` names it)."""
    register()
    return {
        table.name: tuple(table.info["disposable"])
        for table in db.metadata.sorted_tables
        if table.info.get("disposable")
    }


def grant_application_role(connection: Connection, role: str) -> list[str]:
    """Grant ``role`` what the exchange needs and nothing more; returns the statements run.

    Every table's privileges are revoked first, so running it again after the models
    changed, or on a role granted by hand, leaves exactly these.
    """
    if connection.dialect.name != "postgresql":
        raise Problem(422, "postgresql_only", "Roles are a PostgreSQL feature")
    exists = connection.execute(
        text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}
    ).first()
    if exists is None:
        raise Problem(404, "role_not_found", "No such role", f"Create the role {role!r} first.")
    quote = connection.dialect.identifier_preparer.quote
    grantee = quote(role)
    schema = quote(connection.execute(select(func.current_schema())).scalar_one())
    statements = [f"GRANT USAGE ON SCHEMA {schema} TO {grantee}"]
    for table, privileges in table_privileges().items():
        statements.append(f"REVOKE ALL ON {schema}.{quote(table)} FROM {grantee}")
        statements.append(f"GRANT {privileges} ON {schema}.{quote(table)} TO {grantee}")
    for table, columns in disposable_columns().items():
        listed = ", ".join(quote(column) for column in columns)
        statements.append(f"GRANT UPDATE ({listed}) ON {schema}.{quote(table)} TO {grantee}")
    statements.append(f"GRANT SELECT ON {schema}.alembic_version TO {grantee}")
    # nextval() for the tables' generated keys; no setval (UPDATE), which would let the
    # role move a key back onto an existing entry's.
    statements.append(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {grantee}")
    # GRANT and REVOKE have no SQLAlchemy construct: the statements are built from the
    # metadata's table names, each quoted by the dialect.
    for statement in statements:
        connection.execute(text(statement))
    return statements
