"""What the audit log derives from an entry's bytes, for auditors' queries.

Kept apart from the rest of the trail so that verification workers import little.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exchange.clock import parse_rfc3339


def leaf_projection(document: Mapping[str, Any]) -> dict[str, Any]:
    """The columns of ``audit_leaf`` that repeat an entry's fields, for auditors' queries."""
    actor = document.get("actor") or {}
    return {
        "recorded_at": parse_rfc3339(document["time"]),
        "action": document["action"],
        "outcome": document["outcome"],
        "status": document["status"],
        "actor_agency": actor.get("agency"),
        "actor_system": actor.get("system"),
        "actor_fingerprint": actor.get("fingerprint"),
        "purpose": document.get("purpose"),
        "actor_user": actor.get("user"),
        "account_user": account_of(document),
    }


# As long as a user name may be (the column's width): a longer value names no account.
ACCOUNT_MAX = 64


def account_of(document: Mapping[str, Any]) -> str | None:
    """The user account an entry concerns, when it names one (``details.user``).

    A sign-in is made by no one yet: its actor is unidentified, and the account it tried
    is known only from here. An administrator's change to a user names that user too.
    """
    details = document.get("details")
    if not isinstance(details, dict):
        return None
    account = details.get("user")
    if isinstance(account, str) and 0 < len(account) <= ACCOUNT_MAX:
        return account
    return None


def entry_targets(document: Mapping[str, Any]) -> list[tuple[str, int]]:
    return list(dict.fromkeys((t["id"], t["version"]) for t in document.get("targets", ())))
