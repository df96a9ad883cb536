"""The auditor's "audit hash" look-up: did anyone search for this term? (DESIGN §7)

Entries keep search terms and residence-card tokens only as HMACs under the exchange's
audit key. An auditor hands the exchange the term in the clear, in the body of a request
that is itself audited (as a hash), and gets back the integrated entries that carry its
HMAC, newest first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, literal, select

from exchange.auth.actor import Actor
from exchange.clock import rfc3339
from exchange.extensions import db
from exchange.pki.vault import load_vault
from exchange.trail.entries import protect_term
from exchange.trail.models import AuditEntry, AuditLeaf
from exchange.trail.published_log import require_auditor

_entry = AuditEntry.__table__
_leaf = AuditLeaf.__table__


def lookup_term(*, actor: Actor, term: str, since: datetime | None, limit: int) -> dict[str, Any]:
    require_auditor(actor)
    protected = protect_term(term, key=load_vault().audit_hmac_key)
    # The hash is hex under a fixed prefix: finding it in the entry's bytes is exact.
    needle = protected.encode("ascii")
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        found = func.instr(_entry.c.canonical, literal(needle)) > 0
    else:
        pattern = literal(b"%" + needle + b"%")
        found = _entry.c.canonical.op("LIKE", is_comparison=True)(pattern)
    query = (
        select(
            _entry.c.id,
            _leaf.c.recorded_at,
            _leaf.c.action,
            _leaf.c.actor_agency,
            _leaf.c.actor_system,
            _leaf.c.purpose,
            _leaf.c.leaf_index,
        )
        .select_from(_leaf.join(_entry, _entry.c.seq == _leaf.c.entry_seq))
        .where(found)
        .order_by(_leaf.c.leaf_index.desc())
        .limit(limit)
    )
    if since is not None:
        query = query.where(_leaf.c.recorded_at >= since)
    return {
        "hash": protected,
        "entries": [
            {
                "id": row.id,
                "time": rfc3339(row.recorded_at),
                "action": row.action,
                "agency": row.actor_agency,
                "system": row.actor_system,
                "purpose": row.purpose,
                "index": row.leaf_index,
            }
            for row in connection.execute(query)
        ],
    }
