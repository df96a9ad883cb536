"""Publishing through the exchange's TAXII 2.1 gateway: signed records as STIX objects.

An agency system signs each envelope with its own key, as for ``POST /api/v1/records``;
the STIX object carries envelope and signature in the exchange's extension. Hand
:func:`taxii_envelope` to a TAXII client (taxii2-client's ``Collection.add_objects``) and
the status it answers to :func:`status_receipts`, which checks every receipt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from exchange.client.sdk import ExchangeClient, Receipt, VerificationError
from exchange.taxii import stix
from keys.jcs import canonicalize


def stix_object(client: ExchangeClient, envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The STIX object that publishes ``envelope``, signed with the client's key."""
    return stix.publication_object(envelope, signature=client.sign(envelope))


def taxii_envelope(
    client: ExchangeClient, envelopes: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """A TAXII 2.1 envelope resource (§3.7) of the signed records, ready to post."""
    return {"objects": [stix_object(client, e) for e in envelopes]}


@dataclass(frozen=True)
class Failure:
    """An object the exchange did not publish, and why (the exchange's stable code)."""

    object_id: str
    code: str
    message: str


@dataclass(frozen=True)
class StatusOutcome:
    receipts: dict[str, Receipt]
    failures: list[Failure]


def status_receipts(
    client: ExchangeClient, status: Mapping[str, Any], envelopes: Sequence[Mapping[str, Any]]
) -> StatusOutcome:
    """The verified receipt of each published envelope by object id, and the failures.

    ``status`` is the status resource (taxii2-client: ``Status._raw``). A receipt must be
    signed by the exchange over the very bytes this client signed.
    """
    by_object = {stix.primary_object_id(str(e["id"]), str(e["type"])): e for e in envelopes}
    receipts: dict[str, Receipt] = {}
    for success in status.get("successes", ()):
        envelope = by_object.get(str(success.get("id")))
        if envelope is None:
            raise VerificationError(f"the status names an object not posted: {success.get('id')}")
        receipts[str(success["id"])] = client.verify_receipt(
            str(success.get("x_exchange_receipt", "")),
            record_id=str(envelope["id"]),
            version=int(envelope["version"]),
            canonical=canonicalize(envelope),
            created=bool(success.get("x_exchange_created", True)),
        )
    failures = [
        Failure(
            object_id=str(f.get("id", "")),
            code=str(f.get("x_exchange_code", "unknown")),
            message=str(f.get("message", "")),
        )
        for f in status.get("failures", ())
    ]
    return StatusOutcome(receipts=receipts, failures=failures)
