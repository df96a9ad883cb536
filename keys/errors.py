"""What can go wrong with keys, signatures and certificates.

Every error carries a stable problem ``code`` that callers can hand to clients unchanged;
messages name what failed, never key material or passphrases.
"""


class Error(Exception):
    """Base class of every error raised by :mod:`keys`."""

    code = "key_error"


class MalformedSignature(Error):
    """The token is not a well-formed JWS compact serialization."""

    code = "signature_malformed"


class SignatureInvalid(Error):
    """The signature does not verify, or does not fit the key or the expected type."""

    code = "signature_invalid"


class UnsupportedAlgorithm(Error):
    """The token asks for an algorithm or an extension this exchange does not accept."""

    code = "algorithm_unsupported"


class KeyFormatInvalid(Error):
    """A JWK or key object is not an acceptable signing key."""

    code = "key_invalid"


class ProofInvalid(Error):
    """A proof of possession of a signing key does not hold."""

    code = "proof_invalid"


class CsrInvalid(Error):
    """A certificate signing request cannot be used to issue a certificate."""

    code = "csr_invalid"


class CertificateInvalid(Error):
    """A certificate (or the CA's own certificate and key) cannot be parsed or used."""

    code = "certificate_invalid"


class DecryptionFailed(Error):
    """An encrypted private key could not be decrypted."""

    code = "key_decryption_failed"


class CanonicalizationError(Error):
    """A value has no RFC 8785 canonical form."""

    code = "canonicalization_failed"
