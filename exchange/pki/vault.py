"""The exchange's own keys, in the instance folder, private keys encrypted at rest.

``keys/`` holds: ``ca.pem`` and ``ca.key.pem`` (the CA), ``server.pem`` and
``server.key.pem`` (both listeners), ``exchange.key.pem`` (Ed25519, signs receipts; the
keys that follow it are listed in ``receipt-keys.json``), ``log.key.pem`` (Ed25519, signs
the audit log's checkpoints), what a rotation adds (``exchange.pki.rotation``), and
``secrets.bin`` (the matching key for residence-card tokens, the audit HMAC key, the key
that signs web sessions and the key that seals users' TOTP secrets; AES-GCM under a key
derived from the passphrase). The passphrase comes from
``EXCHANGE_KEY_PASSPHRASE``; the embedded default keeps one in ``keys/passphrase`` (mode
0600), which a production deployment replaces with the variable.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from flask import Flask, current_app

from audit.note import NoteSigner
from exchange.clock import utcnow
from exchange.pki.receipt_keys import FIRST_KEY_FILE, RING_FILE, ReceiptKeyRing, load_ring
from keys import errors as key_errors
from keys.ca import CertificateAuthority
from keys.jwk import PrivateSigningKey, generate_signing_key
from keys.storage import decrypt_private_key, encrypt_private_key, generate_passphrase

log = logging.getLogger(__name__)
_lock = threading.Lock()

NEXT_CA = "ca-next.pem"
NEXT_CA_KEY = "ca-next.key.pem"
RETIRED_CA_PATTERN = "retired-ca-*.pem"
# The exchange's own certificates, by the names the admin pages and metrics give them.
OWN_CERTIFICATES = (
    ("ca", "ca.pem"),
    ("ca_next", NEXT_CA),
    ("server", "server.pem"),
    ("delivery", "delivery.pem"),
)
# A rotation run by another process (the `exchange rotate` command) is seen this soon.
_RECHECK_SECONDS = 1.0
# The files a rotation replaces; a change to any of them loads the vault again.
_WATCHED = (RING_FILE, "ca.pem", NEXT_CA, "server.pem", "delivery.pem")


class VaultMissing(Exception):
    """The instance has no keys yet: run ``exchange init``."""


@dataclass(frozen=True)
class Vault:
    directory: Path
    # The CA of the exchange's own certificates; during a CA rotation, the outgoing one.
    ca: CertificateAuthority
    # During a CA rotation, the incoming CA: it issues client certificates from the start.
    next_ca: CertificateAuthority | None
    # CAs rotated out: their certificates still complete a handshake, to be refused (and
    # audited) by the application rather than silently by TLS.
    retired_ca_pems: tuple[str, ...]
    receipts: ReceiptKeyRing
    log_key: PrivateSigningKey
    matching_key: bytes
    audit_hmac_key: bytes
    session_key: bytes
    totp_key: bytes
    passphrase: bytes

    def receipt_signer(self) -> tuple[PrivateSigningKey, str]:
        """The receipt key that signs now, and its kid: one choice for both."""
        key = self.receipts.signing_key(utcnow())
        assert key.private is not None
        return key.private, key.kid

    @property
    def client_ca(self) -> CertificateAuthority:
        """The CA that issues client certificates now."""
        return self.next_ca or self.ca

    @functools.cached_property
    def trust_pem(self) -> str:
        """What clients trust: the CA, and during a rotation the incoming one after it."""
        pems = [self.ca.certificate_pem]
        if self.next_ca is not None:
            pems.append(self.next_ca.certificate_pem)
        return "".join(pems)

    @functools.cached_property
    def trust_digest(self) -> str:
        return hashlib.sha256(self.trust_pem.encode()).hexdigest()

    @property
    def client_verify_pem(self) -> str:
        """What the API listener's handshake accepts client certificates from."""
        return self.trust_pem + "".join(self.retired_ca_pems)

    @property
    def server_certificate_path(self) -> Path:
        return self.directory / "server.pem"

    @property
    def server_key_path(self) -> Path:
        return self.directory / "server.key.pem"

    @property
    def ca_path(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def delivery_certificate_path(self) -> Path:
        return self.directory / "delivery.pem"

    @property
    def delivery_key_path(self) -> Path:
        """Encrypted under the vault's passphrase, like every private key here."""
        return self.directory / "delivery.key.pem"

    @functools.cached_property
    def issuer(self) -> str:
        """The exchange's name as receipts carry it: its CA's subject (RFC 4514)."""
        return self.ca.certificate.subject.rfc4514_string()

    def log_signer(self, origin: str) -> NoteSigner:
        """The C2SP signed-note signer of the log; its key name is the log's origin."""
        raw = self.log_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return NoteSigner.from_private_bytes(name=origin, private_key=raw)

    def jwks(self) -> dict[str, Any]:
        return self.receipts.jwks(utcnow())


def _passphrase(app: Flask, directory: Path, *, create: bool) -> bytes:
    configured = app.config.get("EXCHANGE_KEY_PASSPHRASE")
    if configured:
        return str(configured).encode()
    path = directory / "passphrase"
    if path.exists():
        return path.read_bytes().strip()
    if not create:
        raise VaultMissing(str(path))
    value = generate_passphrase()
    _write_private(path, value)
    return value


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def replace_file(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write ``path`` whole or not at all: a reader sees the old file or the new one."""
    staging = path.with_name(f".{path.name}.new")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(staging, path)


def _secret_box_key(passphrase: bytes, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(passphrase)


def _seal_secrets(values: dict[str, str], passphrase: bytes) -> bytes:
    salt, nonce = os.urandom(16), os.urandom(12)
    sealed = AESGCM(_secret_box_key(passphrase, salt)).encrypt(
        nonce, json.dumps(values).encode(), b"exchange-secrets/1"
    )
    return (
        b"exchange-secrets/1\n"
        + salt.hex().encode()
        + b"\n"
        + nonce.hex().encode()
        + b"\n"
        + sealed.hex().encode()
    )


def _open_secrets(blob: bytes, passphrase: bytes) -> dict[str, str]:
    _, salt, nonce, sealed = blob.split(b"\n", 3)
    plain = AESGCM(_secret_box_key(passphrase, bytes.fromhex(salt.decode()))).decrypt(
        bytes.fromhex(nonce.decode()), bytes.fromhex(sealed.decode()), b"exchange-secrets/1"
    )
    values: dict[str, str] = json.loads(plain)
    return values


def ca_for_delivery(directory: Path, passphrase: bytes) -> CertificateAuthority:
    return CertificateAuthority.load(
        certificate_pem=(directory / "ca.pem").read_text(),
        private_key_pem=(directory / "ca.key.pem").read_bytes(),
        passphrase=passphrase,
    )


_SECRET_NAMES = ("matching_key", "audit_hmac_key", "session_key", "totp_key")


def _new_secrets(stored: dict[str, str]) -> dict[str, str]:
    """The stored secrets, with any that a vault of an earlier release lacks added."""
    return {name: stored.get(name) or secrets.token_hex(32) for name in _SECRET_NAMES}


def create_vault(app: Flask, *, hostnames: list[str], ip_addresses: list[str]) -> Vault:
    """Create the CA and the exchange's keys; existing keys are kept."""
    directory = Path(app.config["EXCHANGE_KEYS_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    passphrase = _passphrase(app, directory, create=True)
    if not (directory / "ca.pem").exists():
        ca = CertificateAuthority.create(
            common_name=f"{app.config['EXCHANGE_NAME']} CA", organization="exchange"
        )
        certificate_pem, key_pem = ca.dump(passphrase=passphrase)
        (directory / "ca.pem").write_text(certificate_pem)
        _write_private(directory / "ca.key.pem", key_pem)
        server, server_key_pem = ca.issue_server_certificate(
            hostnames=hostnames, ip_addresses=ip_addresses
        )
        (directory / "server.pem").write_text(server.certificate_pem + ca.certificate_pem)
        server_key = load_pem_private_key(server_key_pem.encode(), password=None)
        _write_private(
            directory / "server.key.pem",
            encrypt_private_key(server_key, passphrase=passphrase),  # type: ignore[arg-type]
        )
    # Once rotated, the first receipt key's file may be gone: the ring lists the keys.
    if not (directory / FIRST_KEY_FILE).exists() and not (directory / RING_FILE).exists():
        key = generate_signing_key("Ed25519")
        _write_private(
            directory / "exchange.key.pem", encrypt_private_key(key, passphrase=passphrase)
        )
    if not (directory / "delivery.pem").exists():
        # The exchange's own client certificate, for pushing deliveries over mutual TLS.
        bundle = ca_for_delivery(directory, passphrase).generate_client_bundle(
            agency="exchange", system="push-delivery", valid_days=825
        )
        delivery_key = load_pem_private_key(bundle.private_key_pem.encode(), password=None)
        _write_private(
            directory / "delivery.key.pem",
            encrypt_private_key(delivery_key, passphrase=passphrase),  # type: ignore[arg-type]
        )
        (directory / "delivery.pem").write_text(bundle.certificate.certificate_pem)
    if not (directory / "log.key.pem").exists():
        key = generate_signing_key("Ed25519")
        _write_private(directory / "log.key.pem", encrypt_private_key(key, passphrase=passphrase))
    if not (directory / "secrets.bin").exists():
        _write_private(directory / "secrets.bin", _seal_secrets(_new_secrets({}), passphrase))
    forget_vault(app)
    return load_vault(app)


@dataclass(frozen=True)
class _Loaded:
    vault: Vault
    stamp: tuple[tuple[int, int] | None, ...]
    checked: float


def _stamp(directory: Path) -> tuple[tuple[int, int] | None, ...]:
    stamps: list[tuple[int, int] | None] = []
    for name in _WATCHED:
        try:
            found = os.stat(directory / name)
        except FileNotFoundError:
            stamps.append(None)
        else:
            stamps.append((found.st_ino, found.st_mtime_ns))
    return tuple(stamps)


def forget_vault(app: Flask) -> None:
    """Drop the cached vault, after this process changed the keys folder."""
    with _lock:
        app.extensions.pop("exchange.vault", None)


def load_vault(app: Flask | None = None) -> Vault:
    """The vault, loaded again once a rotation changed the folder (checked every second)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    loaded = cast("_Loaded | None", app.extensions.get("exchange.vault"))
    now = time.monotonic()
    if loaded is not None and now - loaded.checked < _RECHECK_SECONDS:
        return loaded.vault
    with _lock:
        loaded = cast("_Loaded | None", app.extensions.get("exchange.vault"))
        if loaded is not None and now - loaded.checked < _RECHECK_SECONDS:
            return loaded.vault
        directory = Path(app.config["EXCHANGE_KEYS_DIR"])
        stamp = _stamp(directory)
        if loaded is not None and stamp == loaded.stamp:
            app.extensions["exchange.vault"] = _Loaded(loaded.vault, stamp, now)
            return loaded.vault
        try:
            vault = _read_vault(app, directory)
        except (OSError, ValueError, KeyError, key_errors.Error) as error:
            if loaded is None:
                raise
            # A rotation half-way through its files: keep serving with the keys in hand.
            log.warning("keys folder changing, still using the keys loaded before: %s", error)
            app.extensions["exchange.vault"] = _Loaded(loaded.vault, loaded.stamp, now)
            return loaded.vault
        app.extensions["exchange.vault"] = _Loaded(vault, stamp, now)
        return vault


def _read_vault(app: Flask, directory: Path) -> Vault:
    if not (directory / "ca.pem").exists():
        raise VaultMissing(str(directory))
    passphrase = _passphrase(app, directory, create=False)
    ca = CertificateAuthority.load(
        certificate_pem=(directory / "ca.pem").read_text(),
        private_key_pem=(directory / "ca.key.pem").read_bytes(),
        passphrase=passphrase,
    )
    next_ca = None
    if (directory / NEXT_CA).exists():
        next_ca = CertificateAuthority.load(
            certificate_pem=(directory / NEXT_CA).read_text(),
            private_key_pem=(directory / NEXT_CA_KEY).read_bytes(),
            passphrase=passphrase,
        )
    retired = tuple(p.read_text() for p in sorted(directory.glob(RETIRED_CA_PATTERN)))
    log_key = decrypt_private_key((directory / "log.key.pem").read_bytes(), passphrase=passphrase)
    stored = _open_secrets((directory / "secrets.bin").read_bytes(), passphrase)
    if any(name not in stored for name in _SECRET_NAMES):
        stored = _new_secrets(stored)
        _write_private(directory / "secrets.bin", _seal_secrets(stored, passphrase))
    return Vault(
        directory=directory,
        ca=ca,
        next_ca=next_ca,
        retired_ca_pems=retired,
        receipts=load_ring(directory, passphrase),
        log_key=log_key,
        matching_key=bytes.fromhex(stored["matching_key"]),
        audit_hmac_key=bytes.fromhex(stored["audit_hmac_key"]),
        session_key=bytes.fromhex(stored["session_key"]),
        totp_key=bytes.fromhex(stored["totp_key"]),
        passphrase=passphrase,
    )
