"""Which certificate signing requests the CA accepts, and what it takes from them.

Only the public key: subject, attributes and requested extensions are the applicant's
wishes, and the CA decides those itself. The CSR's self-signature is its proof of possession
(RFC 2986 §3) and must verify.
"""

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm as _CryptographyUnsupported
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from keys.errors import CsrInvalid

__all__ = ["ClientPublicKey", "csr_public_key"]

ClientPublicKey = ec.EllipticCurvePublicKey | Ed25519PublicKey | rsa.RSAPublicKey

_CURVES = (ec.SECP256R1, ec.SECP384R1)
_MIN_RSA_BITS = 2048
# OpenSSL will not verify with RSA moduli above OPENSSL_RSA_MAX_MODULUS_BITS (16384), so a
# larger key could never complete a handshake.
_MAX_RSA_BITS = 16384


def csr_public_key(csr_pem: str | bytes) -> ClientPublicKey:
    """The public key of a PEM CSR whose signature verifies and whose key is acceptable:
    P-256, P-384, Ed25519, or RSA of 2048 bits or more."""
    data = csr_pem.encode("ascii", errors="replace") if isinstance(csr_pem, str) else csr_pem
    try:
        csr = x509.load_pem_x509_csr(data)
        signature_valid = csr.is_signature_valid
        public_key = csr.public_key()
    except (ValueError, TypeError, _CryptographyUnsupported):
        raise CsrInvalid("not a readable PEM certificate signing request") from None
    if not signature_valid:
        raise CsrInvalid("CSR signature does not verify")
    if isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(public_key.curve, _CURVES):
        return public_key
    if isinstance(public_key, Ed25519PublicKey):
        return public_key
    if (
        isinstance(public_key, rsa.RSAPublicKey)
        and _MIN_RSA_BITS <= public_key.key_size <= _MAX_RSA_BITS
    ):
        return public_key
    raise CsrInvalid("CSR key must be P-256, P-384, Ed25519 or RSA of 2048 bits or more")
