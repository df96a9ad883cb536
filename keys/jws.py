"""JWS compact serialization (RFC 7515) with Ed25519 and ES256, payload attached or detached.

Signing and verification are written here rather than through joserfc. Speed did not
decide it (on the publish path both cost about a bare verification). What decided it: the
exchange's header rules (4 KiB limit, unique member names, a required ``kid``, no ``crit``,
no ``b64``, error classes that map to problem codes) need a parser of our own in any case,
so joserfc would parse every header twice; its default registry caps payloads at 128 kB
and headers at 512 bytes; and it reports the deprecated ``EdDSA`` with a
``SecurityWarning`` on every verification, which a threaded server cannot silence locally
(``warnings.catch_warnings`` is process-global). What remains here is small: strict
base64url, a JSON object check, and one signature verification.

Keys are ``cryptography`` objects throughout; the Ed25519 arithmetic itself is libsodium's
(PyNaCl), which verifies an envelope in half OpenSSL's time (``benchmarks/README.md``). Its
verification is also the stricter one: it refuses public keys of small order and
non-canonical point encodings by itself, which ``keys.jwk`` checks at registration as well.
ES256 stays with ``cryptography``, and so do the checkpoint notes of ``audit``, a few
signatures a second.
"""

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NoReturn

import nacl.bindings as sodium
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from nacl.exceptions import BadSignatureError

from keys._b64 import b64url_decode, b64url_encode
from keys.errors import MalformedSignature, SignatureInvalid, UnsupportedAlgorithm
from keys.jcs import canonicalize
from keys.jwk import PrivateSigningKey, PublicSigningKey, algorithm_for

__all__ = [
    "JWSHeader",
    "read_header",
    "sign_compact",
    "sign_detached",
    "verify_compact",
    "verify_detached",
]

_MAX_HEADER_OCTETS = 4096
_MAX_HEADER_CHARS = -(-_MAX_HEADER_OCTETS // 3) * 4
# RFC 9864 names Ed25519 fully; "EdDSA" (RFC 8037 §3.1) is deprecated but still sent by
# older agency clients, and means Ed25519 here because no Ed448 key is ever registered.
_ED25519_ALGORITHMS = frozenset({"Ed25519", "EdDSA"})
_ALGORITHMS = _ED25519_ALGORITHMS | {"ES256"}
# RFC 8032 §5.1.6 and RFC 7518 §3.4: both algorithms produce 64 octets (R || S)
_SIGNATURE_OCTETS = 64
_P256_SCALAR_OCTETS = 32


@dataclass(frozen=True)
class JWSHeader:
    """A JWS protected header that passed the exchange's header rules."""

    alg: str
    kid: str
    typ: str | None
    raw: Mapping[str, object]


def read_header(token: str) -> JWSHeader:
    """Parse the protected header of ``token`` without verifying anything.

    Use it to find the key (``kid``) a token claims; trust nothing in it until one of the
    ``verify_*`` functions has returned.
    """
    header_segment, _payload_segment, _signature_segment = _split(token)
    return _parse_header(header_segment)


def sign_detached(payload: bytes, *, key: PrivateSigningKey, kid: str, typ: str) -> str:
    """Sign ``payload`` and return ``header..signature`` (RFC 7515 appendix F)."""
    header_segment, _payload_segment, signature_segment = _sign(payload, key=key, kid=kid, typ=typ)
    return f"{header_segment}..{signature_segment}"


def sign_compact(payload: bytes, *, key: PrivateSigningKey, kid: str, typ: str) -> str:
    """Sign ``payload`` and return ``header.payload.signature`` (RFC 7515 §7.1)."""
    return ".".join(_sign(payload, key=key, kid=kid, typ=typ))


def verify_detached(
    token: str, payload: bytes, *, key: PublicSigningKey, typ: str | None = None
) -> JWSHeader:
    """Verify a detached-payload JWS over ``payload`` with ``key``; return its header.

    With ``typ`` given, the header's ``typ`` must name the same media type.
    """
    header_segment, payload_segment, signature_segment = _split(token)
    if payload_segment:
        raise MalformedSignature("a detached JWS has an empty payload part")
    return _verify(header_segment, b64url_encode(payload), signature_segment, key=key, typ=typ)


def verify_compact(
    token: str, *, key: PublicSigningKey, typ: str | None = None
) -> tuple[JWSHeader, bytes]:
    """Verify a JWS with an attached payload with ``key``; return its header and payload."""
    header_segment, payload_segment, signature_segment = _split(token)
    try:
        payload = b64url_decode(payload_segment)
    except ValueError:
        raise MalformedSignature("JWS payload is not base64url") from None
    header = _verify(header_segment, payload_segment, signature_segment, key=key, typ=typ)
    return header, payload


def _sign(payload: bytes, *, key: PrivateSigningKey, kid: str, typ: str) -> tuple[str, str, str]:
    if not isinstance(key, Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise TypeError("key must be a private signing key")
    if not kid or not typ:
        raise ValueError("kid and typ must be non-empty")
    header_segment = _header_segment(algorithm_for(key), kid, typ)
    payload_segment = b64url_encode(payload)
    signing_input = f"{header_segment}.{payload_segment}".encode("ascii")
    return header_segment, payload_segment, b64url_encode(_signature(key, signing_input))


@functools.lru_cache(maxsize=256)
def _header_segment(alg: str, kid: str, typ: str) -> str:
    # A signer uses one header for every token it makes: encode it once.
    return b64url_encode(canonicalize({"alg": alg, "kid": kid, "typ": typ}))


def _signature(key: PrivateSigningKey, signing_input: bytes) -> bytes:
    if isinstance(key, Ed25519PrivateKey):
        return _ed25519_sign(key, signing_input)
    # RFC 7518 §3.4: R and S as fixed-width big-endian octets, not a DER SEQUENCE
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(_P256_SCALAR_OCTETS, "big") + s.to_bytes(_P256_SCALAR_OCTETS, "big")


def _ed25519_sign(key: Ed25519PrivateKey, message: bytes) -> bytes:
    signed = sodium.crypto_sign(message, _sodium_secret_key(key.private_bytes_raw()))
    return signed[: sodium.crypto_sign_BYTES]


@functools.lru_cache(maxsize=64)
def _sodium_secret_key(seed: bytes) -> bytes:
    # libsodium's 64-octet secret key is the seed and its public key, which takes a
    # scalar multiplication to derive: once per signing key, not once per signature.
    return sodium.crypto_sign_seed_keypair(seed)[1]


def _ed25519_verify(key: Ed25519PublicKey, signature: bytes, message: bytes) -> None:
    """``Ed25519PublicKey.verify``, by libsodium: raises ``InvalidSignature`` as it does."""
    try:
        sodium.crypto_sign_open(signature + message, key.public_bytes_raw())
    except BadSignatureError:
        raise InvalidSignature from None


def _verify(
    header_segment: str,
    payload_segment: str,
    signature_segment: str,
    *,
    key: PublicSigningKey,
    typ: str | None,
) -> JWSHeader:
    if not isinstance(key, Ed25519PublicKey | ec.EllipticCurvePublicKey):
        raise TypeError("key must be a public signing key")
    header = _parse_header(header_segment)
    try:
        signature = b64url_decode(signature_segment)
    except ValueError:
        raise MalformedSignature("JWS signature is not base64url") from None
    if typ is not None and (header.typ is None or _media_type(header.typ) != _media_type(typ)):
        raise SignatureInvalid(f"JWS typ must be {typ!r}")
    signing_input = f"{header_segment}.{payload_segment}".encode("ascii")
    _check_signature(alg=header.alg, key=key, signing_input=signing_input, signature=signature)
    return header


def _check_signature(
    *, alg: str, key: PublicSigningKey, signing_input: bytes, signature: bytes
) -> None:
    if alg in _ED25519_ALGORITHMS:
        if not isinstance(key, Ed25519PublicKey):
            _alg_mismatch(alg)
    elif alg == "ES256":
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(
            key.curve, ec.SECP256R1
        ):
            _alg_mismatch(alg)
    else:
        raise UnsupportedAlgorithm(f"JWS alg {alg[:32]!r} is not accepted")
    if len(signature) != _SIGNATURE_OCTETS:
        raise SignatureInvalid(f"{alg} signatures are {_SIGNATURE_OCTETS} octets")
    try:
        if isinstance(key, Ed25519PublicKey):
            _ed25519_verify(key, signature, signing_input)
        else:
            r = int.from_bytes(signature[:_P256_SCALAR_OCTETS], "big")
            s = int.from_bytes(signature[_P256_SCALAR_OCTETS:], "big")
            key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise SignatureInvalid("JWS signature does not verify") from None


def _alg_mismatch(alg: str) -> NoReturn:
    # RFC 8725 §3.1: the key, not the token, decides the algorithm
    raise SignatureInvalid(f"JWS alg {alg!r} does not fit the key")


def _split(token: str) -> tuple[str, str, str]:
    if not isinstance(token, str):
        raise MalformedSignature("JWS must be a string")
    # maxsplit bounds the work a token made of dots can cause
    parts = token.split(".", 3)
    if len(parts) != 3:
        raise MalformedSignature("JWS compact serialization has three parts")
    return parts[0], parts[1], parts[2]


@functools.lru_cache(maxsize=1024)
def _parse_header(segment: str) -> JWSHeader:
    """The checked header of a segment; a pure function of the text, so its results are
    kept (errors are not), and a batch signed under one header parses it once."""
    if len(segment) > _MAX_HEADER_CHARS:
        raise MalformedSignature("JWS header is larger than 4 KiB")
    try:
        octets = b64url_decode(segment)
    except ValueError:
        raise MalformedSignature("JWS header is not base64url") from None
    if len(octets) > _MAX_HEADER_OCTETS:
        raise MalformedSignature("JWS header is larger than 4 KiB")
    try:
        # RFC 7515 §4: a UTF-8 JSON object whose member names are unique
        raw = json.loads(
            octets.decode("utf-8"),
            object_pairs_hook=_unique_members,
            parse_constant=_reject_constant,
        )
    except (ValueError, RecursionError):
        raise MalformedSignature("JWS header is not a JSON object") from None
    if not isinstance(raw, dict):
        raise MalformedSignature("JWS header is not a JSON object")
    alg = raw.get("alg")
    if not isinstance(alg, str):
        raise MalformedSignature("JWS header has no alg")
    # RFC 7515 §4.1.11: a recipient must refuse extensions it does not understand; the
    # exchange understands none, and RFC 7797's unencoded payload would change what is signed.
    if "crit" in raw:
        raise UnsupportedAlgorithm("JWS header extensions (crit) are not accepted")
    if "b64" in raw and raw["b64"] is not True:
        raise UnsupportedAlgorithm("unencoded JWS payloads (b64) are not accepted")
    if alg not in _ALGORITHMS:
        raise UnsupportedAlgorithm(f"JWS alg {alg[:32]!r} is not accepted")
    kid = raw.get("kid")
    if not isinstance(kid, str) or not kid:
        raise MalformedSignature("JWS header has no kid")
    typ = raw.get("typ")
    if typ is not None and not isinstance(typ, str):
        raise MalformedSignature("JWS header typ is not a string")
    return JWSHeader(alg=alg, kid=kid, typ=typ, raw=MappingProxyType(raw))


def _unique_members(pairs: list[tuple[str, object]]) -> dict[str, object]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise ValueError("duplicate member name")
    return members


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _media_type(typ: str) -> str:
    # RFC 7515 §4.1.9: media types compare case-insensitively, and a typ without "/" has an
    # implied "application/" prefix.
    lowered = typ.lower()
    return lowered if "/" in lowered else f"application/{lowered}"
