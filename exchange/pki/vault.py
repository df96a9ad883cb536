"""The exchange's own keys, in the instance folder, private keys encrypted at rest.

``keys/`` holds: ``ca.pem`` and ``ca.key.pem`` (the CA that issues client certificates),
``server.pem`` and ``server.key.pem`` (both listeners), ``exchange.key.pem`` (Ed25519,
signs receipts), ``log.key.pem`` (Ed25519, signs the audit log's checkpoints), and
``secrets.bin`` (the matching key for residence-card tokens, the audit HMAC key, the key
that signs web sessions and the key that seals users' TOTP secrets; AES-GCM under a key
derived from the passphrase). The passphrase comes from
``EXCHANGE_KEY_PASSPHRASE``; the embedded default keeps one in ``keys/passphrase`` (mode
0600), which a production deployment replaces with the variable.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import threading
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
from keys.ca import CertificateAuthority
from keys.jwk import PrivateSigningKey, generate_signing_key, public_jwk, thumbprint
from keys.storage import decrypt_private_key, encrypt_private_key, generate_passphrase

_lock = threading.Lock()


class VaultMissing(Exception):
    """The instance has no keys yet: run ``exchange init``."""


@dataclass(frozen=True)
class Vault:
    directory: Path
    ca: CertificateAuthority
    receipt_key: PrivateSigningKey
    receipt_kid: str
    log_key: PrivateSigningKey
    matching_key: bytes
    audit_hmac_key: bytes
    session_key: bytes
    totp_key: bytes
    passphrase: bytes

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
        jwk = dict(public_jwk(self.receipt_key))
        jwk.update({"kid": self.receipt_kid, "use": "sig", "alg": "Ed25519"})
        return {"keys": [jwk]}


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
    if not (directory / "exchange.key.pem").exists():
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
    with _lock:
        app.extensions.pop("exchange.vault", None)
    return load_vault(app)


def load_vault(app: Flask | None = None) -> Vault:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    vault = cast("Vault | None", app.extensions.get("exchange.vault"))
    if vault is not None:
        return vault
    with _lock:
        vault = cast("Vault | None", app.extensions.get("exchange.vault"))
        if vault is not None:
            return vault
        directory = Path(app.config["EXCHANGE_KEYS_DIR"])
        if not (directory / "ca.pem").exists():
            raise VaultMissing(str(directory))
        passphrase = _passphrase(app, directory, create=False)
        ca = CertificateAuthority.load(
            certificate_pem=(directory / "ca.pem").read_text(),
            private_key_pem=(directory / "ca.key.pem").read_bytes(),
            passphrase=passphrase,
        )
        receipt_key = decrypt_private_key(
            (directory / "exchange.key.pem").read_bytes(), passphrase=passphrase
        )
        log_key = decrypt_private_key(
            (directory / "log.key.pem").read_bytes(), passphrase=passphrase
        )
        stored = _open_secrets((directory / "secrets.bin").read_bytes(), passphrase)
        if any(name not in stored for name in _SECRET_NAMES):
            stored = _new_secrets(stored)
            _write_private(directory / "secrets.bin", _seal_secrets(stored, passphrase))
        vault = Vault(
            directory=directory,
            ca=ca,
            receipt_key=receipt_key,
            receipt_kid=thumbprint(public_jwk(receipt_key)),
            log_key=log_key,
            matching_key=bytes.fromhex(stored["matching_key"]),
            audit_hmac_key=bytes.fromhex(stored["audit_hmac_key"]),
            session_key=bytes.fromhex(stored["session_key"]),
            totp_key=bytes.fromhex(stored["totp_key"]),
            passphrase=passphrase,
        )
        app.extensions["exchange.vault"] = vault
        return vault
