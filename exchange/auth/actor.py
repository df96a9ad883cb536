from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Actor:
    """The acting identity, passed explicitly to every service function."""

    kind: str  # "system" | "user" | "operator" | "anonymous"
    agency_id: str | None = None
    agency_kind: str | None = None
    system_id: int | None = None
    system_name: str | None = None
    fingerprint: str | None = None
    address: str | None = None
    operator: str | None = None
    # A person signed in to the web UI, by username.
    user: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    # The agency and its ancestors: an audience naming a ministry includes its bureaus.
    agency_lineage: tuple[str, ...] = ()

    def describe(self) -> dict[str, Any]:
        """The actor as written into an audit entry."""
        described: dict[str, Any] = {"kind": self.kind}
        for name in ("agency_id", "system_name", "user", "fingerprint", "address", "operator"):
            value = getattr(self, name)
            if value is not None:
                described[name.removesuffix("_id").removesuffix("_name")] = value
        return described


ANONYMOUS = Actor(kind="anonymous")


def operator_actor(name: str) -> Actor:
    """An administrator acting through the ``exchange`` command on the server."""
    return Actor(kind="operator", operator=name, roles=frozenset({"admin"}))
