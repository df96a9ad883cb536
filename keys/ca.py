"""The exchange's own certificate authority: TLS server and client certificates, and CRLs.

Certificates follow the RFC 5280 profile closely enough for OpenSSL's strict verification
(``X509_V_FLAG_X509_STRICT``, the default of Python 3.13 clients) and for ``cryptography``'s
path validation. Every key the CA generates is EC P-256, which browsers and OpenSSL clients
all handle. A client certificate names its system in the subject (O = agency, CN = system)
and in the SAN URI ``urn:exchange:system:<agency>:<system>``; of a CSR only the public key
is used.
"""

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from keys._time import utc
from keys.certificates import (
    IssuedCertificate,
    certificate_fingerprint,
    describe_certificate,
    load_certificate,
    system_urn,
)
from keys.csr import ClientPublicKey, csr_public_key
from keys.errors import CertificateInvalid
from keys.storage import decrypt_private_key, encrypt_private_key

__all__ = [
    "CertificateAuthority",
    "ClientBundle",
    "IssuedCertificate",
    "Revocation",
    "certificate_fingerprint",
    "describe_certificate",
    "load_certificate",
]

# Backdated so that a peer whose clock runs a little slow accepts a certificate at once.
_BACKDATE = timedelta(minutes=5)
_HOSTNAME = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
# RFC 5280 §5.3.1: removeFromCRL belongs to delta CRLs only.
_CRL_REASONS = frozenset(x509.ReasonFlags) - {x509.ReasonFlags.remove_from_crl}


@dataclass(frozen=True)
class Revocation:
    """One revoked certificate; ``reason`` names an ``x509.ReasonFlags`` member."""

    serial: int
    revoked_at: datetime
    reason: str


@dataclass(frozen=True)
class ClientBundle:
    """A client certificate with the private key generated for it, for handing to an agency."""

    certificate: IssuedCertificate
    private_key_pem: str
    ca_certificate_pem: str


class CertificateAuthority:
    """A CA certificate and its private key; issues certificates and signs CRLs."""

    def __init__(
        self, *, certificate: x509.Certificate, private_key: ec.EllipticCurvePrivateKey
    ) -> None:
        if not isinstance(private_key, ec.EllipticCurvePrivateKey):
            raise CertificateInvalid("CA private key must be an EC key")
        if certificate.public_key() != private_key.public_key():
            raise CertificateInvalid("CA private key does not match the CA certificate")
        try:
            constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
            ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        except x509.ExtensionNotFound:
            raise CertificateInvalid("CA certificate lacks basicConstraints or SKI") from None
        if not constraints.value.ca:
            raise CertificateInvalid("certificate is not a CA certificate")
        self._certificate = certificate
        self._key = private_key
        # RFC 5280 §4.2.1.1: what this CA issues names its key by the CA's own SKI.
        self._authority_key_id = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
            ski.value
        )

    @classmethod
    def create(
        cls,
        *,
        common_name: str,
        organization: str,
        valid_days: int = 3650,
        now: datetime | None = None,
    ) -> "CertificateAuthority":
        """A new self-signed CA with a fresh P-256 key."""
        key = ec.generate_private_key(ec.SECP256R1())
        name = _name(organization=organization, common_name=common_name)
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        builder = (
            _validity(x509.CertificateBuilder(), valid_days=valid_days, now=now)
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            # RFC 5280 §4.2.1.9: pathLen 0, the CA signs end-entity certificates only
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
            .add_extension(ski, critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                critical=False,
            )
        )
        return cls(certificate=builder.sign(key, hashes.SHA256()), private_key=key)

    @classmethod
    def load(
        cls, *, certificate_pem: str, private_key_pem: bytes, passphrase: bytes
    ) -> "CertificateAuthority":
        """The CA saved by :meth:`dump`."""
        key = decrypt_private_key(private_key_pem, passphrase=passphrase)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise CertificateInvalid("CA private key must be an EC key")
        return cls(certificate=load_certificate(certificate_pem), private_key=key)

    def dump(self, *, passphrase: bytes) -> tuple[str, bytes]:
        """The CA certificate PEM and the CA key as encrypted PKCS#8 PEM."""
        return self.certificate_pem, encrypt_private_key(self._key, passphrase=passphrase)

    @property
    def certificate(self) -> x509.Certificate:
        return self._certificate

    @property
    def certificate_pem(self) -> str:
        return self._certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def issue_server_certificate(
        self,
        *,
        hostnames: Sequence[str],
        ip_addresses: Sequence[str],
        valid_days: int = 825,
        now: datetime | None = None,
    ) -> tuple[IssuedCertificate, str]:
        """A TLS server certificate and its new, unencrypted PKCS#8 private key PEM."""
        if isinstance(hostnames, str) or isinstance(ip_addresses, str):
            raise TypeError("hostnames and ip_addresses are sequences of strings")
        names: list[x509.GeneralName] = []
        for hostname in hostnames:
            if not _HOSTNAME.fullmatch(hostname):
                raise ValueError(f"not an ASCII DNS name: {hostname!r}")
            names.append(x509.DNSName(hostname.lower()))
        names.extend(x509.IPAddress(ipaddress.ip_address(address)) for address in ip_addresses)
        if not names:
            raise ValueError("a server certificate needs a hostname or an IP address")
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = self._issue(
            public_key=key.public_key(),
            subject=_name(
                organization=self._organization(), common_name=[*hostnames, *ip_addresses][0]
            ),
            names=names,
            purpose=ExtendedKeyUsageOID.SERVER_AUTH,
            valid_days=valid_days,
            now=now,
        )
        return describe_certificate(certificate), _private_pem(key)

    def issue_client_certificate(
        self,
        *,
        csr_pem: str | bytes,
        agency: str,
        system: str,
        valid_days: int = 397,
        now: datetime | None = None,
    ) -> IssuedCertificate:
        """A TLS client certificate for ``system`` of ``agency`` over the key in ``csr_pem``.

        The CSR must carry a valid self-signature (its proof of possession, RFC 2986 §3) and
        a P-256, P-384, Ed25519 or RSA (2048 bits or more) key; everything else in it is
        ignored.
        """
        certificate = self._issue_client(
            public_key=csr_public_key(csr_pem),
            agency=agency,
            system=system,
            valid_days=valid_days,
            now=now,
        )
        return describe_certificate(certificate)

    def generate_client_bundle(
        self,
        *,
        agency: str,
        system: str,
        valid_days: int = 397,
        now: datetime | None = None,
    ) -> ClientBundle:
        """A client certificate over a P-256 key generated here, with that key and the CA."""
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = self._issue_client(
            public_key=key.public_key(),
            agency=agency,
            system=system,
            valid_days=valid_days,
            now=now,
        )
        return ClientBundle(
            certificate=describe_certificate(certificate),
            private_key_pem=_private_pem(key),
            ca_certificate_pem=self.certificate_pem,
        )

    def crl_pem(
        self,
        *,
        revocations: Iterable[Revocation],
        now: datetime | None = None,
        next_update_hours: int = 24,
    ) -> str:
        """A CRL signed by this CA that lists ``revocations`` with their reasons.

        The reason ``unspecified`` is expressed by leaving the reason code out, as RFC 5280
        §5.3.1 asks. The CRL number (RFC 5280 §5.2.3) is the thisUpdate time in microseconds
        since the epoch, which increases from one CRL to the next without a stored counter.
        """
        if next_update_hours < 1:
            raise ValueError("next_update_hours must be at least 1")
        this_update = utc(now)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self._certificate.subject)
            .last_update(this_update)
            .next_update(this_update + timedelta(hours=next_update_hours))
            .add_extension(x509.CRLNumber(_microseconds(this_update)), critical=False)
            # RFC 5280 §5.2.1: conforming CRL issuers must include the AKI
            .add_extension(self._authority_key_id, critical=False)
        )
        listed: set[int] = set()
        for revocation in revocations:
            if revocation.serial in listed:
                raise ValueError(f"serial {revocation.serial} is revoked twice")
            listed.add(revocation.serial)
            builder = builder.add_revoked_certificate(_revoked_entry(revocation))
        return (
            builder.sign(self._key, hashes.SHA256())
            .public_bytes(serialization.Encoding.PEM)
            .decode("ascii")
        )

    def _issue_client(
        self,
        *,
        public_key: ClientPublicKey,
        agency: str,
        system: str,
        valid_days: int,
        now: datetime | None,
    ) -> x509.Certificate:
        urn = system_urn(agency=agency, system=system)
        return self._issue(
            public_key=public_key,
            subject=_name(organization=agency, common_name=system),
            names=[x509.UniformResourceIdentifier(urn)],
            purpose=ExtendedKeyUsageOID.CLIENT_AUTH,
            valid_days=valid_days,
            now=now,
        )

    def _issue(
        self,
        *,
        public_key: ClientPublicKey,
        subject: x509.Name,
        names: list[x509.GeneralName],
        purpose: x509.ObjectIdentifier,
        valid_days: int,
        now: datetime | None,
    ) -> x509.Certificate:
        builder = (
            _validity(x509.CertificateBuilder(), valid_days=valid_days, now=now)
            .subject_name(subject)
            .issuer_name(self._certificate.subject)
            .public_key(public_key)
            # RFC 5280 §4.1.2.2 and CA/B BR §7.1: positive, at most 20 octets, 64+ random bits
            .serial_number(x509.random_serial_number())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([purpose]), critical=False)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(self._authority_key_id, critical=False)
        )
        return builder.sign(self._key, hashes.SHA256())

    def _organization(self) -> str:
        attributes = self._certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        return str(attributes[0].value) if attributes else "exchange"


def _revoked_entry(revocation: Revocation) -> x509.RevokedCertificate:
    try:
        reason = x509.ReasonFlags[revocation.reason]
    except KeyError:
        reason = None
    if reason not in _CRL_REASONS:
        raise ValueError(f"not a CRL reason: {revocation.reason!r}")
    entry = (
        x509.RevokedCertificateBuilder()
        .serial_number(revocation.serial)
        .revocation_date(utc(revocation.revoked_at))
    )
    if reason is not x509.ReasonFlags.unspecified:
        entry = entry.add_extension(x509.CRLReason(reason), critical=False)
    return entry.build()


def _name(*, organization: str, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _validity(
    builder: x509.CertificateBuilder, *, valid_days: int, now: datetime | None
) -> x509.CertificateBuilder:
    if valid_days < 1:
        raise ValueError("valid_days must be at least 1")
    issued_at = utc(now).replace(microsecond=0)
    return builder.not_valid_before(issued_at - _BACKDATE).not_valid_after(
        issued_at + timedelta(days=valid_days)
    )


def _key_usage(
    *, digital_signature: bool = False, key_cert_sign: bool = False, crl_sign: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _microseconds(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=moment.tzinfo)) // timedelta(microseconds=1)


def _private_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
