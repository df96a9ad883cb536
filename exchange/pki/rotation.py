"""Rotating the exchange's own keys and certificates, with an overlap for those who rely on them.

Every change is a set of files replaced whole in the keys folder (so a backup is still a copy
of the folder); running servers load the folder again within a second of a change. What each
rotation does, and in which order an operator runs them, is in ``docs/rotation.md``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from flask import Flask
from sqlalchemy import select

from exchange.auth.actor import Actor
from exchange.errors import Kind, Refusal
from exchange.extensions import db
from exchange.pki.models import Certificate
from exchange.pki.receipt_keys import RING_FILE, ReceiptKey, ReceiptKeyRing, ring_document
from exchange.pki.service import revoke_certificate
from exchange.pki.vault import (
    NEXT_CA,
    NEXT_CA_KEY,
    Vault,
    forget_vault,
    load_vault,
    replace_file,
)
from keys.ca import CertificateAuthority, IssuedCertificate
from keys.jwk import generate_signing_key, public_jwk, thumbprint
from keys.storage import encrypt_private_key

# The server and delivery certificates' lifetime: the CA/Browser Forum's former limit.
OWN_CERTIFICATE_DAYS = 825


def _fresh_vault(app: Flask) -> Vault:
    forget_vault(app)
    return load_vault(app)


def _write_key_pem(path: Path, unencrypted_pem: str, passphrase: bytes) -> None:
    key = load_pem_private_key(unencrypted_pem.encode(), password=None)
    replace_file(
        path,
        encrypt_private_key(key, passphrase=passphrase),  # type: ignore[arg-type]
        private=True,
    )


# Receipt keys ---------------------------------------------------------------------


def rotate_receipt_key(app: Flask, *, overlap: timedelta, now: datetime) -> ReceiptKey:
    """Publish a new receipt key now; it signs from ``now + overlap``, retiring the current one.

    The private halves of keys already retired are destroyed here: nothing signs with them
    again, and their public halves stay published for the receipts they signed.
    """
    vault = _fresh_vault(app)
    ring = vault.receipts
    pending = ring.pending(now)
    if pending is not None:
        raise Refusal(
            Kind.CONFLICT,
            "rotation_pending",
            "A receipt key is already waiting to sign",
            f"Key {pending.kid} signs from {pending.signs_from.isoformat()}; rotate again "
            "after that, or end its overlap now with --end-overlap.",
        )
    kept = []
    for key in ring.keys:
        if ring.status(key, now) == "retired" and key.file is not None:
            (vault.directory / key.file).unlink(missing_ok=True)
            key = replace(key, private=None, file=None)
        kept.append(key)
    private = generate_signing_key("Ed25519")
    jwk = public_jwk(private)
    kid = thumbprint(jwk)
    file = f"receipt-{kid[:16]}.key.pem"
    sealed = encrypt_private_key(private, passphrase=vault.passphrase)
    replace_file(vault.directory / file, sealed, private=True)
    new = ReceiptKey(kid, jwk, private, file, now, now + overlap)
    _write_ring(vault, ReceiptKeyRing((*kept, new)))
    forget_vault(app)
    return new


def end_receipt_overlap(app: Flask, *, now: datetime) -> ReceiptKey:
    """Let the waiting receipt key sign from now on (the current one is suspect, say)."""
    vault = _fresh_vault(app)
    pending = vault.receipts.pending(now)
    if pending is None:
        raise Refusal(Kind.CONFLICT, "no_rotation", "No receipt key is waiting to sign")
    started = replace(pending, signs_from=now)
    _write_ring(
        vault, ReceiptKeyRing(tuple(started if k is pending else k for k in vault.receipts.keys))
    )
    forget_vault(app)
    return started


def _write_ring(vault: Vault, ring: ReceiptKeyRing) -> None:
    replace_file(vault.directory / RING_FILE, ring_document(ring).encode())


# The exchange's own certificates --------------------------------------------------


def public_names(app: Flask) -> tuple[list[str], list[str]]:
    """DNS names and IP addresses of ``EXCHANGE_PUBLIC_URL``, for the server certificate."""
    url = app.config.get("EXCHANGE_PUBLIC_URL")
    host = urlsplit(url).hostname if url else None
    if not host:
        return [], []
    try:
        return [], [str(ipaddress.ip_address(host))]
    except ValueError:
        return [host], []


def _current_names(path: Path) -> tuple[list[str], list[str]]:
    certificate = x509.load_pem_x509_certificate(path.read_bytes())
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return (
        list(names.get_values_for_type(x509.DNSName)),
        [str(address) for address in names.get_values_for_type(x509.IPAddress)],
    )


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _write_server_certificate(
    vault: Vault,
    issuer: CertificateAuthority,
    hostnames: list[str],
    ip_addresses: list[str],
    valid_days: int = OWN_CERTIFICATE_DAYS,
) -> IssuedCertificate:
    issued, key_pem = issuer.issue_server_certificate(
        hostnames=hostnames, ip_addresses=ip_addresses, valid_days=valid_days
    )
    # The key first: a server that loads between the two writes fails to pair them and keeps
    # the pair it has, until the certificate follows.
    _write_key_pem(vault.server_key_path, key_pem, vault.passphrase)
    replace_file(
        vault.server_certificate_path, (issued.certificate_pem + issuer.certificate_pem).encode()
    )
    return issued


def rotate_server_certificate(
    app: Flask,
    *,
    hostnames: list[str],
    ip_addresses: list[str],
    valid_days: int = OWN_CERTIFICATE_DAYS,
) -> IssuedCertificate:
    """A new key and certificate for both listeners, named after the public URL.

    Without names given, the current certificate's are kept beside the public URL's. During
    a CA rotation it is still issued by the outgoing CA, which every client trusts.
    """
    vault = _fresh_vault(app)
    dns, ips = public_names(app)
    if not hostnames and not ip_addresses:
        hostnames, ip_addresses = _current_names(vault.server_certificate_path)
    issued = _write_server_certificate(
        vault, vault.ca, _unique(dns + hostnames), _unique(ips + ip_addresses), valid_days
    )
    forget_vault(app)
    return issued


def _write_delivery_certificate(
    vault: Vault, issuer: CertificateAuthority, valid_days: int = OWN_CERTIFICATE_DAYS
) -> IssuedCertificate:
    bundle = issuer.generate_client_bundle(
        agency="exchange", system="push-delivery", valid_days=valid_days
    )
    _write_key_pem(vault.delivery_key_path, bundle.private_key_pem, vault.passphrase)
    replace_file(vault.delivery_certificate_path, bundle.certificate.certificate_pem.encode())
    return bundle.certificate


def rotate_delivery_certificate(
    app: Flask, *, valid_days: int = OWN_CERTIFICATE_DAYS
) -> IssuedCertificate:
    """A new key and client certificate for push deliveries, from the CA receivers trust.

    The outgoing certificate is not revoked: a delivery under way finishes with it, and
    receivers accept either, as both chain to the same CA.
    """
    vault = _fresh_vault(app)
    issued = _write_delivery_certificate(vault, vault.ca, valid_days)
    forget_vault(app)
    return issued


# The CA ---------------------------------------------------------------------------


def begin_ca_rotation(app: Flask, *, now: datetime) -> CertificateAuthority:
    """Create the incoming CA: trusted and accepted from now, issuing client certificates."""
    vault = _fresh_vault(app)
    if vault.next_ca is not None:
        raise Refusal(
            Kind.CONFLICT,
            "rotation_pending",
            "A CA rotation is already under way",
            "Finish it with `exchange rotate ca --finish` first.",
        )
    incoming = CertificateAuthority.create(
        common_name=f"{app.config['EXCHANGE_NAME']} CA {now:%Y-%m-%d %H%M}",
        organization="exchange",
    )
    certificate_pem, key_pem = incoming.dump(passphrase=vault.passphrase)
    replace_file(vault.directory / NEXT_CA_KEY, key_pem, private=True)
    replace_file(vault.directory / NEXT_CA, certificate_pem.encode())
    forget_vault(app)
    return incoming


@dataclass(frozen=True)
class FinishedRotation:
    ca: CertificateAuthority
    # Client certificates of the outgoing CA, revoked as superseded.
    revoked: list[Certificate]


def stranded_systems(incoming: CertificateAuthority, now: datetime) -> list[str]:
    """Systems with a usable certificate, none of them from ``incoming``."""
    usable = db.session.scalars(
        select(Certificate).where(Certificate.revoked_at.is_(None), Certificate.not_after > now)
    ).all()
    with_incoming = {c.system_id for c in usable if issued_by(c, incoming)}
    return sorted(
        {
            f"{c.system.agency_id}/{c.system.name}"
            for c in usable
            if c.system_id not in with_incoming
        }
    )


def issued_by(certificate: Certificate, ca: CertificateAuthority) -> bool:
    parsed = x509.load_pem_x509_certificate(certificate.pem.encode())
    try:
        parsed.verify_directly_issued_by(ca.certificate)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def finish_ca_rotation(
    app: Flask, *, actor: Actor, now: datetime, force: bool = False
) -> FinishedRotation:
    """Make the incoming CA the CA; revoke the outgoing one's client certificates.

    The server and delivery certificates are issued again by the incoming CA, and the
    outgoing CA's private key is destroyed; its certificate is kept in the folder as retired,
    so that its clients still complete a handshake and are refused by the application, each
    refusal an audited ``auth.denied``. Refused, naming them, while systems would be left
    without a certificate from the incoming CA, unless ``force``.
    """
    vault = _fresh_vault(app)
    incoming = vault.next_ca
    if incoming is None:
        raise Refusal(
            Kind.CONFLICT,
            "no_rotation",
            "No CA rotation is under way",
            "Begin one with `exchange rotate ca --begin`.",
        )
    stranded = stranded_systems(incoming, now)
    if stranded and not force:
        raise Refusal(
            Kind.CONFLICT,
            "systems_without_new_certificate",
            "Systems would be cut off",
            "These systems have no certificate from the new CA yet: "
            + ", ".join(stranded)
            + ". Issue them one, or finish anyway with --force.",
        )
    outgoing = vault.ca.certificate
    retired_name = f"retired-ca-{outgoing.fingerprint(SHA256()).hex()[:16]}.pem"
    replace_file(vault.directory / retired_name, vault.ca.certificate_pem.encode())
    hostnames, ip_addresses = _current_names(vault.server_certificate_path)
    dns, ips = public_names(app)
    _write_server_certificate(
        vault, incoming, _unique(dns + hostnames), _unique(ips + ip_addresses)
    )
    _write_delivery_certificate(vault, incoming)
    (vault.directory / NEXT_CA_KEY).replace(vault.directory / "ca.key.pem")
    (vault.directory / NEXT_CA).replace(vault.directory / "ca.pem")
    revoked = [
        revoke_certificate(actor=actor, fingerprint=c.fingerprint, reason="superseded")
        for c in db.session.scalars(select(Certificate).where(Certificate.revoked_at.is_(None)))
        if not issued_by(c, incoming)
    ]
    forget_vault(app)
    return FinishedRotation(ca=incoming, revoked=revoked)
