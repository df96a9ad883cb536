from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from keys import (
    CertificateAuthority,
    CertificateInvalid,
    CsrInvalid,
    DecryptionFailed,
    Revocation,
    certificate_fingerprint,
    describe_certificate,
    generate_passphrase,
    load_certificate,
)

_E = TypeVar("_E", bound=x509.ExtensionType)
_CsrKey = ec.EllipticCurvePrivateKey | Ed25519PrivateKey | rsa.RSAPrivateKey | Ed448PrivateKey


def _csr(key: _CsrKey, *, common_name: str = "requested-name", ca: bool = False) -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "requested-org"),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )
    )
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    algorithm = None if isinstance(key, Ed25519PrivateKey | Ed448PrivateKey) else hashes.SHA256()
    return builder.sign(key, algorithm).public_bytes(serialization.Encoding.PEM)


def _with_flipped_signature_bit(csr_pem: bytes) -> bytes:
    der = bytearray(x509.load_pem_x509_csr(csr_pem).public_bytes(serialization.Encoding.DER))
    # the last octet is inside the signature value (Ed25519: S; ECDSA: the INTEGER s)
    der[-1] ^= 0x01
    body = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM)
    return body


def _extension(certificate: x509.Certificate, kind: type[_E]) -> x509.Extension[_E]:
    return certificate.extensions.get_extension_for_class(kind)


class TestCertificateAuthority:
    def test_ca_certificate_profile(self, ca: CertificateAuthority) -> None:
        certificate = ca.certificate
        constraints = _extension(certificate, x509.BasicConstraints)
        assert constraints.critical
        assert constraints.value.ca
        assert constraints.value.path_length == 0
        usage = _extension(certificate, x509.KeyUsage)
        assert usage.critical
        assert usage.value.key_cert_sign
        assert usage.value.crl_sign
        assert not usage.value.digital_signature
        assert _extension(certificate, x509.SubjectKeyIdentifier)
        public_key = certificate.public_key()
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        assert isinstance(public_key.curve, ec.SECP256R1)
        certificate.verify_directly_issued_by(certificate)

    def test_dump_and_load(self, ca: CertificateAuthority) -> None:
        passphrase = generate_passphrase()
        certificate_pem, key_pem = ca.dump(passphrase=passphrase)
        assert key_pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        loaded = CertificateAuthority.load(
            certificate_pem=certificate_pem, private_key_pem=key_pem, passphrase=passphrase
        )
        bundle = loaded.generate_client_bundle(agency="isa", system="case-mgmt")
        load_certificate(bundle.certificate.certificate_pem).verify_directly_issued_by(
            ca.certificate
        )

    def test_load_with_wrong_passphrase(self, ca: CertificateAuthority) -> None:
        certificate_pem, key_pem = ca.dump(passphrase=generate_passphrase())
        with pytest.raises(DecryptionFailed):
            CertificateAuthority.load(
                certificate_pem=certificate_pem, private_key_pem=key_pem, passphrase=b"wrong"
            )

    def test_load_with_another_ca_key(
        self, ca: CertificateAuthority, other_ca: CertificateAuthority
    ) -> None:
        passphrase = generate_passphrase()
        _, other_key_pem = other_ca.dump(passphrase=passphrase)
        with pytest.raises(CertificateInvalid):
            CertificateAuthority.load(
                certificate_pem=ca.certificate_pem,
                private_key_pem=other_key_pem,
                passphrase=passphrase,
            )


class TestClientCertificate:
    def test_issue_from_csr_takes_subject_from_arguments(self, ca: CertificateAuthority) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        issued = ca.issue_client_certificate(
            csr_pem=_csr(key, ca=True), agency="isa", system="case-mgmt"
        )
        certificate = load_certificate(issued.certificate_pem)
        assert certificate.subject == x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "isa"),
                x509.NameAttribute(NameOID.COMMON_NAME, "case-mgmt"),
            ]
        )
        assert certificate.public_key() == key.public_key()
        assert (issued.agency, issued.system) == ("isa", "case-mgmt")
        san = _extension(certificate, x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.UniformResourceIdentifier) == [
            "urn:exchange:system:isa:case-mgmt"
        ]
        assert _extension(certificate, x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.CLIENT_AUTH]
        )
        usage = _extension(certificate, x509.KeyUsage)
        assert usage.critical
        assert usage.value.digital_signature
        assert not usage.value.key_cert_sign
        constraints = _extension(certificate, x509.BasicConstraints)
        assert constraints.critical
        assert not constraints.value.ca
        aki = _extension(certificate, x509.AuthorityKeyIdentifier).value
        ski = _extension(ca.certificate, x509.SubjectKeyIdentifier).value
        assert aki.key_identifier == ski.digest
        assert _extension(certificate, x509.SubjectKeyIdentifier)

    def test_serial_and_fingerprint(self, ca: CertificateAuthority) -> None:
        issued = ca.generate_client_bundle(agency="isa", system="a").certificate
        other = ca.generate_client_bundle(agency="isa", system="a").certificate
        assert 0 < issued.serial < 2**159
        assert issued.serial != other.serial
        certificate = load_certificate(issued.certificate_pem)
        der = certificate.public_bytes(serialization.Encoding.DER)
        assert issued.fingerprint == certificate.fingerprint(hashes.SHA256()).hex()
        assert issued.fingerprint == certificate_fingerprint(der)
        assert issued.fingerprint == certificate_fingerprint(issued.certificate_pem)
        assert issued.fingerprint == certificate_fingerprint(issued.certificate_pem.encode())
        assert issued.fingerprint == certificate_fingerprint(certificate)
        assert describe_certificate(der) == issued

    @pytest.mark.parametrize(
        "key",
        [
            ec.generate_private_key(ec.SECP256R1()),
            ec.generate_private_key(ec.SECP384R1()),
            Ed25519PrivateKey.generate(),
            rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ],
        ids=["P-256", "P-384", "Ed25519", "RSA-2048"],
    )
    def test_accepted_csr_keys(self, ca: CertificateAuthority, key: _CsrKey) -> None:
        issued = ca.issue_client_certificate(csr_pem=_csr(key).decode(), agency="npa", system="s")
        assert load_certificate(issued.certificate_pem).public_key() == key.public_key()

    @pytest.mark.parametrize(
        "key",
        [
            ec.generate_private_key(ec.SECP521R1()),
            ec.generate_private_key(ec.SECP256K1()),
            rsa.generate_private_key(public_exponent=65537, key_size=1024),
            Ed448PrivateKey.generate(),
        ],
        ids=["P-521", "secp256k1", "RSA-1024", "Ed448"],
    )
    def test_refused_csr_keys(self, ca: CertificateAuthority, key: _CsrKey) -> None:
        with pytest.raises(CsrInvalid) as caught:
            ca.issue_client_certificate(csr_pem=_csr(key), agency="npa", system="s")
        assert caught.value.code == "csr_invalid"

    @pytest.mark.parametrize(
        "key",
        [Ed25519PrivateKey.generate(), ec.generate_private_key(ec.SECP256R1())],
        ids=["Ed25519", "P-256"],
    )
    def test_csr_with_bad_signature_is_refused(
        self, ca: CertificateAuthority, key: _CsrKey
    ) -> None:
        with pytest.raises(CsrInvalid, match="signature"):
            ca.issue_client_certificate(
                csr_pem=_with_flipped_signature_bit(_csr(key)), agency="isa", system="s"
            )

    @pytest.mark.parametrize(
        "csr_pem", ["", "garbage", b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n", "日本語"]
    )
    def test_unreadable_csr_is_refused(self, ca: CertificateAuthority, csr_pem: str) -> None:
        with pytest.raises(CsrInvalid):
            ca.issue_client_certificate(csr_pem=csr_pem, agency="isa", system="s")

    @pytest.mark.parametrize(
        ("agency", "system"), [("isa", "a:b"), ("i sa", "s"), ("", "s"), ("isa", "x" * 65)]
    )
    def test_identifiers_must_fit_the_urn(
        self, ca: CertificateAuthority, agency: str, system: str
    ) -> None:
        with pytest.raises(ValueError):
            ca.generate_client_bundle(agency=agency, system=system)

    def test_bundle_chains_to_the_ca(self, ca: CertificateAuthority) -> None:
        bundle = ca.generate_client_bundle(agency="mofa", system="visa-screening")
        assert bundle.ca_certificate_pem == ca.certificate_pem
        key = serialization.load_pem_private_key(bundle.private_key_pem.encode(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        assert isinstance(key.curve, ec.SECP256R1)
        leaf = load_certificate(bundle.certificate.certificate_pem)
        assert leaf.public_key() == key.public_key()
        verifier = PolicyBuilder().store(Store([ca.certificate])).build_client_verifier()
        verified = verifier.verify(leaf, [])
        assert verified.subjects == [
            x509.UniformResourceIdentifier("urn:exchange:system:mofa:visa-screening")
        ]

    def test_bundle_does_not_chain_to_another_ca(
        self, ca: CertificateAuthority, other_ca: CertificateAuthority
    ) -> None:
        leaf = load_certificate(
            other_ca.generate_client_bundle(agency="isa", system="s").certificate.certificate_pem
        )
        verifier = PolicyBuilder().store(Store([ca.certificate])).build_client_verifier()
        with pytest.raises(VerificationError):
            verifier.verify(leaf, [])

    def test_expired_certificate_via_now(self, ca: CertificateAuthority) -> None:
        two_years_ago = datetime.now(UTC) - timedelta(days=730)
        bundle = ca.generate_client_bundle(
            agency="isa", system="old", valid_days=1, now=two_years_ago
        )
        assert bundle.certificate.not_after < datetime.now(UTC)
        assert bundle.certificate.not_after - bundle.certificate.not_before <= timedelta(
            days=1, minutes=5
        )
        assert bundle.certificate.not_before.tzinfo is not None
        verifier = PolicyBuilder().store(Store([ca.certificate])).build_client_verifier()
        with pytest.raises(VerificationError):
            verifier.verify(load_certificate(bundle.certificate.certificate_pem), [])

    def test_naive_now_is_refused(self, ca: CertificateAuthority) -> None:
        with pytest.raises(ValueError):
            ca.generate_client_bundle(agency="isa", system="s", now=datetime(2026, 1, 1))


class TestServerCertificate:
    def test_profile(self, ca: CertificateAuthority) -> None:
        issued, key_pem = ca.issue_server_certificate(
            hostnames=["exchange.example.go.jp", "localhost"], ip_addresses=["127.0.0.1", "::1"]
        )
        certificate = load_certificate(issued.certificate_pem)
        san = _extension(certificate, x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == ["exchange.example.go.jp", "localhost"]
        assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]
        assert _extension(certificate, x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.SERVER_AUTH]
        )
        assert (issued.agency, issued.system) == (None, None)
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
        assert certificate.public_key() == key.public_key()
        verifier = (
            PolicyBuilder()
            .store(Store([ca.certificate]))
            .build_server_verifier(x509.DNSName("exchange.example.go.jp"))
        )
        assert verifier.verify(certificate, [])[-1] == ca.certificate

    @pytest.mark.parametrize(
        ("hostnames", "ip_addresses"),
        [([], []), (["bad host"], []), (["-x.example"], []), ([], ["300.1.1.1"])],
    )
    def test_bad_names(
        self, ca: CertificateAuthority, hostnames: list[str], ip_addresses: list[str]
    ) -> None:
        with pytest.raises(ValueError):
            ca.issue_server_certificate(hostnames=hostnames, ip_addresses=ip_addresses)


class TestCertificateRevocationList:
    def test_lists_revocations_with_reasons(self, ca: CertificateAuthority) -> None:
        now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
        revocations = [
            Revocation(serial=101, revoked_at=now - timedelta(days=1), reason="key_compromise"),
            Revocation(serial=102, revoked_at=now - timedelta(hours=1), reason="superseded"),
            Revocation(serial=103, revoked_at=now, reason="cessation_of_operation"),
            Revocation(serial=104, revoked_at=now, reason="unspecified"),
        ]
        crl = x509.load_pem_x509_crl(ca.crl_pem(revocations=revocations, now=now).encode())
        assert crl.is_signature_valid(ca.certificate.public_key())  # type: ignore[arg-type]
        assert crl.issuer == ca.certificate.subject
        assert crl.last_update_utc == now
        assert crl.next_update_utc == now + timedelta(hours=24)
        reasons: dict[int, x509.ReasonFlags | None] = {}
        for entry in crl:
            try:
                reasons[entry.serial_number] = entry.extensions.get_extension_for_class(
                    x509.CRLReason
                ).value.reason
            except x509.ExtensionNotFound:
                reasons[entry.serial_number] = None
        assert reasons == {
            101: x509.ReasonFlags.key_compromise,
            102: x509.ReasonFlags.superseded,
            103: x509.ReasonFlags.cessation_of_operation,
            # RFC 5280 §5.3.1: unspecified is expressed by leaving the reason out
            104: None,
        }
        revoked = crl.get_revoked_certificate_by_serial_number(101)
        assert revoked is not None
        assert revoked.revocation_date_utc == now - timedelta(days=1)
        aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        assert (
            aki.key_identifier == _extension(ca.certificate, x509.SubjectKeyIdentifier).value.digest
        )

    def test_crl_number_increases(self, ca: CertificateAuthority) -> None:
        now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

        def number(moment: datetime) -> int:
            crl = x509.load_pem_x509_crl(ca.crl_pem(revocations=[], now=moment).encode())
            return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number

        assert number(now) < number(now + timedelta(microseconds=1)) < number(now + timedelta(1))

    def test_not_signed_by_another_ca(
        self, ca: CertificateAuthority, other_ca: CertificateAuthority
    ) -> None:
        crl = x509.load_pem_x509_crl(other_ca.crl_pem(revocations=[]).encode())
        assert not crl.is_signature_valid(ca.certificate.public_key())  # type: ignore[arg-type]

    @pytest.mark.parametrize("reason", ["remove_from_crl", "keyCompromise", "stolen", ""])
    def test_unknown_reason_is_refused(self, ca: CertificateAuthority, reason: str) -> None:
        now = datetime.now(UTC)
        with pytest.raises(ValueError):
            ca.crl_pem(revocations=[Revocation(serial=1, revoked_at=now, reason=reason)])

    def test_serial_listed_twice_is_refused(self, ca: CertificateAuthority) -> None:
        now = datetime.now(UTC)
        twice = [Revocation(serial=1, revoked_at=now, reason="superseded")] * 2
        with pytest.raises(ValueError):
            ca.crl_pem(revocations=twice)


class TestReadingCertificates:
    @pytest.mark.parametrize("data", ["", "garbage", b"\x30\x03\x02\x01\x01", b"garbage"])
    def test_garbage(self, data: str | bytes) -> None:
        with pytest.raises(CertificateInvalid):
            certificate_fingerprint(data)
        with pytest.raises(CertificateInvalid):
            describe_certificate(data)
