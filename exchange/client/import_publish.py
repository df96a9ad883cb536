"""Publishing an import plan: each row compared with its record's current version, only new
and changed rows signed, and the batches cut to the limits the exchange states."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from exchange.client.importer import ImportPlan, StoredVersion, next_version, now_timestamp
from exchange.client.sdk import ExchangeClient, ExchangeError, Receipt

# A detached JWS header and signature, with the JSON around them, stay under this.
SIGNATURE_ALLOWANCE = 512
# The braces and key of {"records": [...]}.
BATCH_OVERHEAD = 64


@dataclass(frozen=True)
class Limits:
    max_batch: int
    max_body_bytes: int

    @classmethod
    def from_identity(cls, identity: dict[str, Any]) -> Limits:
        limits = identity["limits"]
        return cls(int(limits["max_batch"]), int(limits["max_body_bytes"]))


@dataclass
class ImportOutcome:
    created: list[str] = field(default_factory=list)
    amended: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)
    batches: int = 0


class RecordTooLarge(ValueError):
    """One row's record alone is over the exchange's body limit."""


def split_batches(
    envelopes: Sequence[dict[str, Any]], limits: Limits
) -> Iterator[list[dict[str, Any]]]:
    """Consecutive batches of at most ``max_batch`` records whose bodies fit the limit."""
    batch: list[dict[str, Any]] = []
    size = BATCH_OVERHEAD
    for envelope in envelopes:
        item = len(json.dumps(envelope, ensure_ascii=False).encode()) + SIGNATURE_ALLOWANCE
        if item + BATCH_OVERHEAD > limits.max_body_bytes:
            raise RecordTooLarge(
                f"record {envelope['id']} is larger than the exchange accepts in one request."
            )
        if batch and (len(batch) >= limits.max_batch or size + item > limits.max_body_bytes):
            yield batch
            batch, size = [], BATCH_OVERHEAD
        batch.append(envelope)
        size += item
    if batch:
        yield batch


def current_versions(
    exchange: ExchangeClient, plan: ImportPlan, *, purpose: str
) -> tuple[list[dict[str, Any]], ImportOutcome]:
    """The envelopes to publish — version 1 for new rows, n+1 for changed ones — and the
    rows left alone."""
    outcome = ImportOutcome()
    issued_at = now_timestamp()
    pending: list[dict[str, Any]] = []
    for row in plan.rows:
        try:
            record = exchange.get(row.record_id, purpose=purpose).record
            stored = StoredVersion(record["version"], record["status"], record["payload"])
        except ExchangeError as error:
            if error.code != "record_not_found":
                raise
            stored = None
        effect, version = next_version(row, stored)
        getattr(outcome, effect).append(row.record_id)
        if version is not None:
            pending.append(dict(row.envelope, version=version, issued_at=issued_at))
    return pending, outcome


def publish_plan(
    exchange: ExchangeClient,
    plan: ImportPlan,
    *,
    purpose: str,
    limits: Limits,
    progress: Callable[[int], None] = lambda done: None,
    on_pending: Callable[[int], None] = lambda total: None,
) -> ImportOutcome:
    """Publish what changed, batch by batch; each batch is stored whole or not at all."""
    pending, outcome = current_versions(exchange, plan, purpose=purpose)
    on_pending(len(pending))
    for batch in split_batches(pending, limits):
        outcome.receipts.extend(exchange.publish_batch(batch))
        outcome.batches += 1
        progress(len(batch))
    return outcome
