"""Reading certificates: parsing, SHA-256 fingerprints, and the system a certificate names.

A client certificate names its system in the SAN URI ``urn:exchange:system:<agency>:<system>``
(RFC 8141 URN syntax, an informal namespace of this exchange). The database, not the
certificate, is authoritative for who a fingerprint belongs to; the URN is for display and
for cross-checking.
"""

import re
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from keys.errors import CertificateInvalid

__all__ = [
    "SYSTEM_URN_PREFIX",
    "IssuedCertificate",
    "certificate_fingerprint",
    "describe_certificate",
    "load_certificate",
    "parse_fingerprint",
    "system_urn",
]

SYSTEM_URN_PREFIX = "urn:exchange:system:"
# Agency and system identifiers become a DN attribute (RFC 5280 ub-common-name: 64) and two
# colon-separated segments of a URN (RFC 8141 §2 NSS characters, no colon).
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# `openssl x509 -noout -fingerprint -sha256` prints "sha256 Fingerprint=AB:CD:…" (OpenSSL 3;
# "SHA256 Fingerprint=" before): 32 colon-separated pairs of uppercase hex digits.
_FINGERPRINT = re.compile(
    r"(?:sha-?256\s+fingerprint\s*=\s*)?([0-9a-f]{64}|[0-9a-f]{2}(?::[0-9a-f]{2}){31})",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class IssuedCertificate:
    """What the exchange records about a certificate; times are timezone-aware UTC."""

    certificate_pem: str
    serial: int
    fingerprint: str
    not_before: datetime
    not_after: datetime
    agency: str | None
    system: str | None


def system_urn(*, agency: str, system: str) -> str:
    """The SAN URI of ``system`` of ``agency``; ValueError for identifiers it cannot hold."""
    for label, value in (("agency", agency), ("system", system)):
        if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
            raise ValueError(f"{label} must be 1 to 64 of A-Z a-z 0-9 . _ -, not {value!r}")
    return f"{SYSTEM_URN_PREFIX}{agency}:{system}"


def load_certificate(pem: str | bytes) -> x509.Certificate:
    """Parse one PEM certificate."""
    data = pem.encode("ascii", errors="replace") if isinstance(pem, str) else pem
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        raise CertificateInvalid("not a PEM certificate") from None


def certificate_fingerprint(certificate: x509.Certificate | str | bytes) -> str:
    """Lowercase hex SHA-256 of the certificate's DER; accepts an object, PEM, or DER bytes."""
    return _as_certificate(certificate).fingerprint(hashes.SHA256()).hex()


def parse_fingerprint(text: str) -> str:
    """A SHA-256 fingerprint as :func:`certificate_fingerprint` writes it, from that form or
    the one ``openssl`` prints (with or without its label, in either case)."""
    match = _FINGERPRINT.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            "a SHA-256 fingerprint is 64 hexadecimal digits, "
            "or 32 pairs of them separated by colons as openssl prints it"
        )
    return match.group(1).replace(":", "").lower()


def describe_certificate(certificate: x509.Certificate | str | bytes) -> IssuedCertificate:
    """The facts the exchange records about ``certificate``."""
    parsed = _as_certificate(certificate)
    agency, system = _system_identity(parsed)
    return IssuedCertificate(
        certificate_pem=parsed.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        serial=parsed.serial_number,
        fingerprint=parsed.fingerprint(hashes.SHA256()).hex(),
        not_before=parsed.not_valid_before_utc,
        not_after=parsed.not_valid_after_utc,
        agency=agency,
        system=system,
    )


def _as_certificate(certificate: x509.Certificate | str | bytes) -> x509.Certificate:
    if isinstance(certificate, x509.Certificate):
        return certificate
    if isinstance(certificate, str) or certificate.lstrip().startswith(b"-----BEGIN"):
        return load_certificate(certificate)
    try:
        return x509.load_der_x509_certificate(certificate)
    except ValueError:
        raise CertificateInvalid("not a DER or PEM certificate") from None


def _system_identity(certificate: x509.Certificate) -> tuple[str | None, str | None]:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return None, None
    uris = [
        uri
        for uri in san.value.get_values_for_type(x509.UniformResourceIdentifier)
        if uri.startswith(SYSTEM_URN_PREFIX)
    ]
    if len(uris) != 1:
        return None, None
    agency, _, system = uris[0].removeprefix(SYSTEM_URN_PREFIX).partition(":")
    if not _IDENTIFIER.fullmatch(agency) or not _IDENTIFIER.fullmatch(system):
        return None, None
    return agency, system
