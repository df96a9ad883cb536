"""PostgreSQL privileges for the application's own role (DESIGN §7).

Migrations run as the schema's owner; the exchange serves as a role that may read and
append to the log tables but not change them. The triggers refuse UPDATE and DELETE too:
this is the second lock, which holds even if a trigger is dropped.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from exchange.problems import Problem

APPEND_ONLY_TABLES = (
    "audit_entry",
    "audit_target",
    "record_version",
    "policy_version",
    "audit_leaf",
    "audit_hash",
    "audit_checkpoint",
    "audit_cosignature",
)
MUTABLE_TABLES = ("agency", "system", "certificate", "signing_key", "record", "record_audience")


def grant_application_role(connection: Connection, role: str) -> list[str]:
    """Grant ``role`` what the exchange needs and nothing more; returns the statements run."""
    if connection.dialect.name != "postgresql":
        raise Problem(422, "postgresql_only", "Roles are a PostgreSQL feature")
    exists = connection.execute(
        text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}
    ).first()
    if exists is None:
        raise Problem(404, "role_not_found", "No such role", f"Create the role {role!r} first.")
    quoted = connection.dialect.identifier_preparer.quote(role)
    schema = connection.execute(text("SELECT current_schema()")).scalar_one()
    quoted_schema = connection.dialect.identifier_preparer.quote(schema)
    statements = [f"GRANT USAGE ON SCHEMA {quoted_schema} TO {quoted}"]
    for table in APPEND_ONLY_TABLES:
        statements.append(f"REVOKE ALL ON {table} FROM {quoted}")
        statements.append(f"GRANT SELECT, INSERT ON {table} TO {quoted}")
    for table in MUTABLE_TABLES:
        statements.append(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {quoted}")
    statements.append(f"GRANT SELECT ON alembic_version TO {quoted}")
    statements.append(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {quoted_schema} TO {quoted}")
    for statement in statements:
        connection.execute(text(statement))
    return statements
