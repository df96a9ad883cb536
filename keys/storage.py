"""Private keys at rest: PKCS#8 PEM, always encrypted under a passphrase (RFC 5958 §3)."""

import base64
import secrets

from cryptography.exceptions import UnsupportedAlgorithm as _CryptographyUnsupported
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys.errors import DecryptionFailed, KeyFormatInvalid
from keys.jwk import PrivateSigningKey

__all__ = ["decrypt_private_key", "encrypt_private_key", "generate_passphrase"]

_PASSPHRASE_OCTETS = 32


def generate_passphrase() -> bytes:
    """A fresh passphrase: 32 random octets, URL-safe base64 encoded."""
    return base64.urlsafe_b64encode(secrets.token_bytes(_PASSPHRASE_OCTETS))


def encrypt_private_key(key: PrivateSigningKey, *, passphrase: bytes) -> bytes:
    """Serialize ``key`` as encrypted PKCS#8 PEM with the best encryption available.

    With cryptography 48 that is PBES2: AES-256-CBC under PBKDF2-HMAC-SHA256 at only 2048
    iterations, which is sound for the 256-bit passphrases of :func:`generate_passphrase`
    and too weak to stretch a passphrase a person chose.
    """
    if not isinstance(key, Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise KeyFormatInvalid("only Ed25519 and EC private keys are stored")
    if not passphrase:
        raise ValueError("passphrase must not be empty")
    return key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.BestAvailableEncryption(passphrase),
    )


def decrypt_private_key(pem: bytes, *, passphrase: bytes) -> PrivateSigningKey:
    """Load an encrypted PKCS#8 PEM written by :func:`encrypt_private_key`.

    Raises :class:`~keys.errors.DecryptionFailed` for a wrong passphrase, a damaged or
    unencrypted PEM, or anything else that is not such a key. The message is the same in
    every case and the cause is dropped, so neither key material nor the passphrase can
    reach a log.
    """
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase)
    # ValueError: wrong passphrase or damaged PEM; TypeError: the PEM is not encrypted, or
    # the arguments are not bytes.
    except (ValueError, TypeError, _CryptographyUnsupported):
        raise DecryptionFailed("private key could not be decrypted") from None
    if not isinstance(key, Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise DecryptionFailed("private key could not be decrypted")
    return key
