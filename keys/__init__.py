"""PKI and signatures of the exchange, usable without the server.

The exchange CA and its X.509 certificates and CRLs, JWKs and their RFC 7638 thumbprints,
RFC 8785 canonical JSON, JWS signing and verification of records, encrypted private keys at
rest, and proofs of possession for registered signing keys. Nothing here imports Flask, a
database, or another package of the project.
"""

from keys.ca import CertificateAuthority, ClientBundle, Revocation
from keys.certificates import (
    IssuedCertificate,
    certificate_fingerprint,
    describe_certificate,
    load_certificate,
)
from keys.errors import (
    CanonicalizationError,
    CertificateInvalid,
    CsrInvalid,
    DecryptionFailed,
    Error,
    KeyFormatInvalid,
    MalformedSignature,
    ProofInvalid,
    SignatureInvalid,
    UnsupportedAlgorithm,
)
from keys.jcs import canonicalize
from keys.jwk import (
    PrivateSigningKey,
    PublicSigningKey,
    SigningAlgorithm,
    algorithm_for,
    generate_signing_key,
    load_private_jwk,
    load_public_jwk,
    private_jwk,
    public_jwk,
    thumbprint,
)
from keys.jws import (
    JWSHeader,
    read_header,
    sign_compact,
    sign_detached,
    verify_compact,
    verify_detached,
)
from keys.pop import make_proof, verify_proof
from keys.storage import decrypt_private_key, encrypt_private_key, generate_passphrase

__all__ = [
    "CanonicalizationError",
    "CertificateAuthority",
    "CertificateInvalid",
    "ClientBundle",
    "CsrInvalid",
    "DecryptionFailed",
    "Error",
    "IssuedCertificate",
    "JWSHeader",
    "KeyFormatInvalid",
    "MalformedSignature",
    "PrivateSigningKey",
    "ProofInvalid",
    "PublicSigningKey",
    "Revocation",
    "SignatureInvalid",
    "SigningAlgorithm",
    "UnsupportedAlgorithm",
    "algorithm_for",
    "canonicalize",
    "certificate_fingerprint",
    "decrypt_private_key",
    "describe_certificate",
    "encrypt_private_key",
    "generate_passphrase",
    "generate_signing_key",
    "load_certificate",
    "load_private_jwk",
    "load_public_jwk",
    "make_proof",
    "private_jwk",
    "public_jwk",
    "read_header",
    "sign_compact",
    "sign_detached",
    "thumbprint",
    "verify_compact",
    "verify_detached",
    "verify_proof",
]
