"""A client's copy of the exchange's CA certificates, kept up to date through a CA rotation.

Every answer of the exchange names the CA certificates it serves at ``/pki/ca.pem`` by
their SHA-256 (header ``Exchange-Trust``). When a bundle's ``ca.pem`` differs, the client
fetches them over the connection its copy has just verified, and replaces the copy: so it
trusts the incoming CA before the server certificate is issued by it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from cryptography import x509

log = logging.getLogger(__name__)

TRUST_HEADER = "Exchange-Trust"
_PREFIX = "sha-256="


def _only_ca_certificates(pem: str) -> bool:
    try:
        certificates = x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        return False
    for certificate in certificates:
        try:
            constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
        except x509.ExtensionNotFound:
            return False
        if not constraints.value.ca:
            return False
    return bool(certificates)


class CaFile:
    """A ``ca.pem`` the client owns and may replace."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._known: tuple[tuple[int, int], str] | None = None
        self._given_up: str | None = None

    def digest(self) -> str:
        found = os.stat(self.path)
        stamp = (found.st_ino, found.st_mtime_ns)
        if self._known is None or self._known[0] != stamp:
            self._known = (stamp, hashlib.sha256(self.path.read_bytes()).hexdigest())
        return self._known[1]

    def follow(self, announced: str | None, *, fetch: Callable[[], str]) -> None:
        """Replace the copy if the exchange announces other CA certificates."""
        if not announced or not announced.startswith(_PREFIX):
            return
        wanted = announced[len(_PREFIX) :].strip().lower()
        with self._lock:
            if wanted == self._given_up or wanted == self.digest():
                return
            pem = fetch()
            if hashlib.sha256(pem.encode()).hexdigest() != wanted or not _only_ca_certificates(pem):
                # Changed again in between, or not CA certificates: keep the copy we have.
                self._given_up = wanted
                return
            staging = self.path.with_name(f".{self.path.name}.new")
            staging.write_text(pem)
            os.replace(staging, self.path)
            log.info("the exchange's CA certificates changed; %s updated", self.path)
