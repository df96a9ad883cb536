"""Proof of possession for the signing keys agencies register.

The proof is a compact JWS by the key being registered over the RFC 8785 form of
``{"agency", "kid", "iat"}``: it shows that whoever registers the public key holds its
private key, that the proof was made for this agency (so one agency cannot register another
agency's key as its own), and that it is fresh.
"""

import json
from collections.abc import Mapping
from datetime import datetime

from keys._time import utc
from keys.errors import Error, ProofInvalid
from keys.jcs import canonicalize
from keys.jwk import PrivateSigningKey, load_public_jwk, public_jwk, thumbprint
from keys.jws import sign_compact, verify_compact

__all__ = ["PROOF_TYPE", "make_proof", "verify_proof"]

PROOF_TYPE = "exchange-key-proof+jws"
_MAX_FUTURE_SECONDS = 60


def make_proof(*, key: PrivateSigningKey, agency: str, now: datetime | None = None) -> str:
    """A proof that the holder of ``key`` registers it for ``agency``."""
    kid = thumbprint(public_jwk(key))
    iat = int(utc(now).timestamp())
    payload = canonicalize({"agency": agency, "kid": kid, "iat": iat})
    return sign_compact(payload, key=key, kid=kid, typ=PROOF_TYPE)


def verify_proof(
    token: str,
    *,
    jwk: Mapping[str, object],
    agency: str,
    now: datetime | None = None,
    max_age_seconds: int = 600,
) -> None:
    """Check that ``token`` proves possession of ``jwk``'s private key for ``agency``.

    Raises :class:`~keys.errors.KeyFormatInvalid` if ``jwk`` itself is unacceptable, and
    :class:`~keys.errors.ProofInvalid` for everything about the proof: a signature that does
    not verify, a malformed token or payload, another key or agency, or an ``iat`` older
    than ``max_age_seconds`` or more than a minute ahead of ``now``.
    """
    key = load_public_jwk(jwk)
    kid = thumbprint(public_jwk(key))
    try:
        header, payload = verify_compact(token, key=key, typ=PROOF_TYPE)
        claims = json.loads(payload.decode("utf-8"))
    except (Error, ValueError, RecursionError):
        raise ProofInvalid("proof of possession does not verify") from None
    if header.kid != kid:
        raise ProofInvalid("proof was made for another key")
    if not isinstance(claims, dict) or claims.keys() != {"agency", "kid", "iat"}:
        raise ProofInvalid("proof payload must hold exactly agency, kid and iat")
    if claims["kid"] != kid:
        raise ProofInvalid("proof was made for another key")
    if claims["agency"] != agency:
        raise ProofInvalid("proof was made for another agency")
    iat = claims["iat"]
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise ProofInvalid("proof iat must be an integer")
    age = int(utc(now).timestamp()) - iat
    if age > max_age_seconds:
        raise ProofInvalid("proof is too old")
    if age < -_MAX_FUTURE_SECONDS:
        raise ProofInvalid("proof is dated in the future")
