"""A stored version's signature, checked again whenever a page shows it.

The record page does not trust that a version was verified when it was published: it
verifies the stored canonical bytes against the publisher's registered public key with the
same library the publish path uses (``keys.jws``, DESIGN §3), and reports the key's state
as it stands now. A key revoked since is not a reason to hide the record; it is a warning,
and versions signed (or received) after the key's compromise are flagged
(``compromise_flag``, DESIGN §6).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from exchange.records.signing import compromise_flag, key_window, public_key
from keys import errors as key_errors
from keys.jws import read_header, verify_detached
from schemas import RECORD_SIGNATURE_TYPE


@dataclass(frozen=True)
class SignatureCheck:
    """What a reader needs to know to trust, or doubt, one version's signature."""

    verified: bool
    kid: str
    algorithm: str
    agency_id: str
    issued_at: datetime
    key_status: str
    revoked_at: datetime | None
    compromised_at: datetime | None
    compromised: bool
    # Why verification failed, as a stable code; None when it succeeded.
    failure: str | None = None
    # Signed by the exchange with the key it holds for the agency (pki.custodial).
    custodial: bool = False


def _failure(version: Any, key: Any, publisher: str) -> str | None:
    try:
        header = read_header(version.signature)
    except key_errors.Error as error:
        return error.code
    if header.kid != key.kid or key.agency_id != publisher:
        return "key_unknown"
    outside = key_window(key, version.issued_at)
    if outside is not None:
        return outside
    try:
        verify_detached(
            version.signature,
            bytes(version.canonical),
            key=public_key(key),
            typ=RECORD_SIGNATURE_TYPE,
        )
    except key_errors.Error as error:
        return error.code
    return None


def check_signature(*, version: Any, key: Any, publisher: str) -> SignatureCheck:
    """Verify a stored version (``RecordVersion``) with its key (``SigningKey``) now."""
    failure = _failure(version, key, publisher)
    return SignatureCheck(
        verified=failure is None,
        kid=key.kid,
        algorithm=key.alg,
        agency_id=key.agency_id,
        issued_at=version.issued_at,
        key_status=key.status,
        revoked_at=key.revoked_at,
        compromised_at=key.compromised_at,
        compromised=compromise_flag(
            key, issued_at=version.issued_at, received_at=version.received_at
        ),
        failure=failure,
        custodial=bool(getattr(key, "custodial", False)),
    )
