"""Client bundles: everything an agency system needs to talk to the exchange.

A bundle directory holds ``client.pem`` and ``client.key.pem`` (the mTLS identity),
``ca.pem`` (to verify the exchange), ``matching.key`` (to turn residence-card numbers
into matching tokens), optionally ``signing-key.jwk`` (a record-signing key generated for
the demo; a real agency keeps its own), and ``exchange.json`` naming the rest, with the
audit log's C2SP verifier key: the client trusts checkpoints signed by that key alone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from flask import current_app

from exchange.pki.vault import load_vault
from exchange.trail.integrator_process import log_origin
from keys.ca import ClientBundle


def default_api_url() -> str:
    """The API address written into bundles: ``EXCHANGE_PUBLIC_URL``, else the listener's."""
    config = current_app.config
    if config.get("EXCHANGE_PUBLIC_URL"):
        return str(config["EXCHANGE_PUBLIC_URL"]).rstrip("/")
    return f"https://{config['EXCHANGE_API_HOST']}:{config['EXCHANGE_API_PORT']}"


def log_verifier_key() -> str:
    """The audit log's C2SP signed-note verifier key, pinned in bundles."""
    return load_vault().log_signer(log_origin(current_app)).verifier_key()


def _private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def write_bundle(
    directory: Path,
    *,
    bundle: ClientBundle,
    api_url: str,
    log_key: str,
    matching_key: bytes,
    signing_jwk: dict[str, Any] | None = None,
    signing_kid: str | None = None,
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    (directory / "client.pem").write_text(bundle.certificate.certificate_pem)
    _private(directory / "client.key.pem", bundle.private_key_pem)
    (directory / "ca.pem").write_text(bundle.ca_certificate_pem)
    _private(directory / "matching.key", matching_key.hex() + "\n")
    if signing_jwk is not None:
        _private(directory / "signing-key.jwk", json.dumps(signing_jwk, indent=2) + "\n")
    manifest = bundle_manifest(
        bundle,
        api_url=api_url,
        log_key=log_key,
        signing_key="signing-key.jwk" if signing_jwk is not None else None,
        signing_kid=signing_kid,
    )
    (directory / "exchange.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return directory


def bundle_manifest(
    bundle: ClientBundle,
    *,
    api_url: str,
    log_key: str,
    signing_key: str | None = None,
    signing_kid: str | None = None,
) -> dict[str, Any]:
    """``exchange.json``: what a bundle's files are, read by ``ExchangeClient.from_bundle``."""
    return {
        "api_url": api_url,
        "log_key": log_key,
        "agency": bundle.certificate.agency,
        "system": bundle.certificate.system,
        "certificate": "client.pem",
        "private_key": "client.key.pem",
        "ca": "ca.pem",
        "matching_key": "matching.key",
        "signing_key": signing_key,
        "signing_kid": signing_kid,
        "certificate_not_after": bundle.certificate.not_after.isoformat(),
    }
