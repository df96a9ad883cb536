"""JSON Web Keys for the exchange's two signing algorithms.

Ed25519 keys are OKP JWKs (RFC 8037 §2) and P-256 keys are EC JWKs (RFC 7518 §6.2). Loading
is strict, because the JWKs come from agencies: one key type per algorithm, fixed-length
members in canonical base64url, points that are on the curve and not of small order, and no
private members where a public key is expected.
"""

from collections.abc import Mapping
from hashlib import sha256
from typing import Literal, TypeAlias

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from keys._b64 import b64url_decode, b64url_encode
from keys._ed25519 import is_acceptable_public_key
from keys.errors import KeyFormatInvalid, UnsupportedAlgorithm
from keys.jcs import canonicalize

__all__ = [
    "PrivateSigningKey",
    "PublicSigningKey",
    "SigningAlgorithm",
    "algorithm_for",
    "generate_signing_key",
    "load_private_jwk",
    "load_public_jwk",
    "private_jwk",
    "public_jwk",
    "thumbprint",
]

SigningAlgorithm = Literal["Ed25519", "ES256"]
PrivateSigningKey: TypeAlias = Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicSigningKey: TypeAlias = Ed25519PublicKey | ec.EllipticCurvePublicKey

# Both Ed25519 and P-256 use 32-octet members: RFC 8037 §2 (x, d), RFC 7518 §6.2.1.2 and
# §6.2.2.1 (x, y and d are the full size of the field or the order, leading zeros kept).
_MEMBER_OCTETS = 32

# RFC 7638 §3.2: the required members of each key type, in lexicographic order
_REQUIRED_MEMBERS = {
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "RSA": ("e", "kty", "n"),
    "oct": ("k", "kty"),
}

# Private or secret key members: RFC 7518 §6.2.2 and §6.3.2, §6.4.1; RFC 8037 §2
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})

# RFC 9864: "Ed25519" is the fully specified name, "EdDSA" the deprecated polymorphic one
_JWK_ALGORITHMS = {"OKP": frozenset({"Ed25519", "EdDSA"}), "EC": frozenset({"ES256"})}
_ABSENT = object()


def generate_signing_key(alg: SigningAlgorithm) -> PrivateSigningKey:
    """Generate a fresh signing key: Ed25519, or P-256 for ``ES256``."""
    if alg == "Ed25519":
        return Ed25519PrivateKey.generate()
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    raise UnsupportedAlgorithm(f"cannot generate a signing key for {alg!r}")


def algorithm_for(key: PrivateSigningKey | PublicSigningKey) -> SigningAlgorithm:
    """The JWS ``alg`` this exchange uses with ``key``."""
    if isinstance(key, Ed25519PrivateKey | Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) and isinstance(
        key.curve, ec.SECP256R1
    ):
        return "ES256"
    raise KeyFormatInvalid("signing keys are Ed25519 or EC P-256")


def public_jwk(key: PrivateSigningKey | PublicSigningKey) -> dict[str, str]:
    """The public JWK of ``key``, with its required members only."""
    algorithm_for(key)
    public = (
        key.public_key() if isinstance(key, Ed25519PrivateKey | ec.EllipticCurvePrivateKey) else key
    )
    if isinstance(public, Ed25519PublicKey):
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(public.public_bytes_raw())}
    numbers = public.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _encode_integer(numbers.x),
        "y": _encode_integer(numbers.y),
    }


def private_jwk(key: PrivateSigningKey) -> dict[str, str]:
    """The private JWK of ``key``: its public members plus ``d``."""
    jwk = public_jwk(key)
    if isinstance(key, Ed25519PrivateKey):
        jwk["d"] = b64url_encode(key.private_bytes_raw())
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        jwk["d"] = _encode_integer(key.private_numbers().private_value)
    else:
        raise KeyFormatInvalid("not a private signing key")
    return jwk


def load_public_jwk(jwk: Mapping[str, object]) -> PublicSigningKey:
    """Load a public signing key from its JWK, refusing anything but a clean public key.

    Optional members are checked where present: ``use`` must be ``sig`` (RFC 7517 §4.2),
    ``key_ops`` must allow ``verify`` (§4.3), ``alg`` must fit the key type (§4.4).
    """
    _check_members(jwk, operation="verify")
    if _PRIVATE_MEMBERS & jwk.keys():
        raise KeyFormatInvalid("a public JWK must not contain private key members")
    return _load_public(jwk)


def load_private_jwk(jwk: Mapping[str, object]) -> PrivateSigningKey:
    """Load a private signing key from its JWK; ``d`` must match the public members."""
    _check_members(jwk, operation="sign")
    if (_PRIVATE_MEMBERS - {"d"}) & jwk.keys():
        raise KeyFormatInvalid("JWK contains members of another key type")
    public = _load_public(jwk)
    d = _fixed_member(jwk, "d")
    if isinstance(public, Ed25519PublicKey):
        private = Ed25519PrivateKey.from_private_bytes(d)
        if private.public_key().public_bytes_raw() != public.public_bytes_raw():
            raise KeyFormatInvalid("JWK member 'd' does not belong to 'x'")
        return private
    try:
        return ec.EllipticCurvePrivateNumbers(
            int.from_bytes(d, "big"), public.public_numbers()
        ).private_key()
    except ValueError:
        raise KeyFormatInvalid("JWK member 'd' does not belong to 'x' and 'y'") from None


def thumbprint(jwk: Mapping[str, object]) -> str:
    """The RFC 7638 SHA-256 thumbprint of ``jwk``, base64url-encoded without padding.

    Only the required members of the key type take part (RFC 7638 §3.2), so a public JWK and
    its private JWK, with or without optional members, have the same thumbprint.
    """
    if not isinstance(jwk, Mapping):
        raise KeyFormatInvalid("JWK must be a JSON object")
    kty = jwk.get("kty")
    names = _REQUIRED_MEMBERS.get(kty) if isinstance(kty, str) else None
    if names is None:
        raise KeyFormatInvalid("JWK member 'kty' is missing or unknown")
    required: dict[str, str] = {}
    for name in names:
        value = jwk.get(name)
        if not isinstance(value, str) or not value:
            raise KeyFormatInvalid(f"JWK member {name!r} is missing")
        required[name] = value
    # RFC 7638 §3.3: no whitespace, members sorted, UTF-8 — which is what RFC 8785 produces
    # for these ASCII member names and values.
    return b64url_encode(sha256(canonicalize(required)).digest())


def _load_public(jwk: Mapping[str, object]) -> PublicSigningKey:
    kty = jwk.get("kty")
    if kty == "OKP":
        _expect(jwk, "crv", "Ed25519")
        x = _fixed_member(jwk, "x")
        if not is_acceptable_public_key(x):
            raise KeyFormatInvalid("Ed25519 public key is not a usable curve point")
        return Ed25519PublicKey.from_public_bytes(x)
    if kty == "EC":
        _expect(jwk, "crv", "P-256")
        numbers = ec.EllipticCurvePublicNumbers(
            int.from_bytes(_fixed_member(jwk, "x"), "big"),
            int.from_bytes(_fixed_member(jwk, "y"), "big"),
            ec.SECP256R1(),
        )
        try:
            return numbers.public_key()
        except ValueError:
            raise KeyFormatInvalid("EC public key is not a point on P-256") from None
    raise KeyFormatInvalid("JWK member 'kty' must be 'OKP' or 'EC'")


def _check_members(jwk: Mapping[str, object], *, operation: str) -> None:
    if not isinstance(jwk, Mapping) or not all(isinstance(name, str) for name in jwk):
        raise KeyFormatInvalid("JWK must be a JSON object")
    kty = jwk.get("kty")
    if "use" in jwk and jwk["use"] != "sig":
        raise KeyFormatInvalid("JWK member 'use' must be 'sig'")
    if "key_ops" in jwk:
        ops = jwk["key_ops"]
        if not isinstance(ops, list) or not all(isinstance(op, str) for op in ops):
            raise KeyFormatInvalid("JWK member 'key_ops' must be a list of strings")
        if operation not in ops:
            raise KeyFormatInvalid(f"JWK member 'key_ops' does not allow {operation!r}")
    alg = jwk.get("alg", _ABSENT)
    if alg is not _ABSENT and (
        not isinstance(alg, str) or alg not in _JWK_ALGORITHMS.get(str(kty), frozenset())
    ):
        raise KeyFormatInvalid("JWK member 'alg' does not fit the key type")
    if "kid" in jwk and not isinstance(jwk["kid"], str):
        raise KeyFormatInvalid("JWK member 'kid' must be a string")


def _expect(jwk: Mapping[str, object], name: str, value: str) -> None:
    if jwk.get(name) != value:
        raise KeyFormatInvalid(f"JWK member {name!r} must be {value!r}")


def _fixed_member(jwk: Mapping[str, object], name: str) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise KeyFormatInvalid(f"JWK member {name!r} is missing")
    try:
        data = b64url_decode(value)
    except ValueError:
        raise KeyFormatInvalid(f"JWK member {name!r} is not base64url") from None
    if len(data) != _MEMBER_OCTETS:
        raise KeyFormatInvalid(f"JWK member {name!r} must be {_MEMBER_OCTETS} octets")
    return data


def _encode_integer(value: int) -> str:
    return b64url_encode(value.to_bytes(_MEMBER_OCTETS, "big"))
