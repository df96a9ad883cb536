"""The manifest of a backup: what it holds, each file's SHA-256, the newest signed checkpoint."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
FORMAT = "exchange-backup/1"


class ManifestError(Exception):
    """The folder holds no usable backup; the message says why."""


@dataclass(frozen=True)
class SignedCheckpoint:
    size: int
    root: bytes
    note: str

    def document(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "root": base64.b64encode(self.root).decode(),
            "note": self.note,
        }


@dataclass(frozen=True)
class Manifest:
    created_at: str
    database_kind: str
    database_file: str
    schema_revision: str | None
    files: dict[str, str]
    checkpoint: SignedCheckpoint | None

    def document(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "created_at": self.created_at,
            "database": {"kind": self.database_kind, "file": self.database_file},
            "schema_revision": self.schema_revision,
            "keys": {
                "folder": "keys",
                "encryption": (
                    "private keys and secrets.bin are stored as the instance keeps them, "
                    "encrypted with the key passphrase; the passphrase is not in the backup"
                ),
            },
            "files": self.files,
            "checkpoint": self.checkpoint.document() if self.checkpoint else None,
        }

    def write(self, folder: Path) -> None:
        text = json.dumps(self.document(), indent=2, ensure_ascii=False) + "\n"
        (folder / MANIFEST).write_text(text, encoding="utf-8")


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder: Path) -> Manifest:
    """The folder's manifest, after checking every file it names against its SHA-256."""
    path = folder / MANIFEST
    if not path.is_file():
        raise ManifestError(f"{folder} holds no {MANIFEST}: not a backup, or an unfinished one")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format") != FORMAT:
            raise ManifestError(f"{path}: not a backup manifest of format {FORMAT}")
        checkpoint = document["checkpoint"]
        manifest = Manifest(
            created_at=str(document["created_at"]),
            database_kind=str(document["database"]["kind"]),
            database_file=str(document["database"]["file"]),
            schema_revision=document["schema_revision"],
            files={str(name): str(digest) for name, digest in document["files"].items()},
            checkpoint=SignedCheckpoint(
                size=int(checkpoint["size"]),
                root=base64.b64decode(checkpoint["root"], validate=True),
                note=str(checkpoint["note"]),
            )
            if checkpoint
            else None,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ManifestError(f"{path}: unreadable manifest ({error})") from None
    for name, expected in manifest.files.items():
        member = (folder / name).resolve()
        if folder.resolve() not in member.parents:
            raise ManifestError(f"{path}: {name!r} lies outside the backup")
        if not member.is_file():
            raise ManifestError(f"{folder}: {name} is missing")
        if file_digest(member) != expected:
            raise ManifestError(f"{folder}: {name} does not match its SHA-256 in the manifest")
    if manifest.database_file not in manifest.files:
        raise ManifestError(f"{path}: the database copy has no checksum")
    return manifest
