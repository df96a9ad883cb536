"""A client bundle as one zip file, built in memory: its private key is never stored here."""

from __future__ import annotations

import io
import json
import stat
import zipfile
from datetime import datetime

from exchange.pki.bundles import bundle_manifest
from keys.ca import ClientBundle

# The same layout as ``exchange.pki.bundles.write_bundle``: ExchangeClient.from_bundle reads
# either, once the zip is unpacked.
_PRIVATE = stat.S_IFREG | 0o600
_PUBLIC = stat.S_IFREG | 0o644


def _add(archive: zipfile.ZipFile, name: str, text: str, mode: int, when: datetime) -> None:
    info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
    info.external_attr = mode << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, text)


def bundle_zip(
    *,
    bundle: ClientBundle,
    api_url: str,
    log_key: str,
    matching_key: bytes,
    created_at: datetime,
) -> bytes:
    folder = f"{bundle.certificate.agency}-{bundle.certificate.system}"
    manifest = bundle_manifest(bundle, api_url=api_url, log_key=log_key)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        files = (
            ("client.pem", bundle.certificate.certificate_pem, _PUBLIC),
            ("client.key.pem", bundle.private_key_pem, _PRIVATE),
            ("ca.pem", bundle.ca_certificate_pem, _PUBLIC),
            ("matching.key", matching_key.hex() + "\n", _PRIVATE),
            ("exchange.json", json.dumps(manifest, indent=2) + "\n", _PUBLIC),
        )
        for name, text, mode in files:
            _add(archive, f"{folder}/{name}", text, mode, created_at)
    return buffer.getvalue()
