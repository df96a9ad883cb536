"""A disposed record: its payload destroyed at the end of its retention; reads answer 410."""

from __future__ import annotations

from exchange.errors import Kind, Refusal

# ``record.status`` of a record whose versions' payloads were destroyed.
DISPOSED = "disposed"


def disposed_refusal(record_id: str) -> Refusal:
    return Refusal(
        Kind.GONE,
        "record_disposed",
        "The record was disposed of",
        f"Record {record_id} passed its retention date and its content was destroyed; "
        "its digest, signature, receipt and audit trail are kept.",
        extra={"record_id": record_id},
    )
