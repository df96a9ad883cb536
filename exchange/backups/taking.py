"""``exchange backup``: copy the database and the keys, then write the manifest.

The manifest names the newest checkpoint signed before the copy began: checkpoints are
only appended, so the copy holds it, and a restore can prove it extends it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from flask import current_app

from exchange.backups.database_copy import copy_database, database_file
from exchange.backups.manifest import Manifest, SignedCheckpoint, file_digest
from exchange.clock import utcnow
from exchange.database import READ_ONLY
from exchange.extensions import db
from exchange.trail.models import AuditCheckpoint

# The passphrase file of the embedded default stays out: a copy of the keys beside the
# passphrase that decrypts them would not be encrypted at all.
PASSPHRASE_FILE = "passphrase"  # noqa: S105 - a file name
KEYS_FOLDER = "keys"


class BackupRefused(Exception):
    """The backup cannot be written where it was asked to be; the message says why."""


def key_files(directory: Path) -> list[Path]:
    """The instance's key files, as paths relative to its keys folder."""
    if not directory.is_dir():
        return []
    return sorted(
        path.relative_to(directory)
        for path in directory.rglob("*")
        if path.is_file() and path.name != PASSPHRASE_FILE
    )


def take_backup(folder: Path) -> Manifest:
    """Write a backup of the instance into ``folder``, which must be new or empty."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise BackupRefused(f"{folder} is not an empty folder; a backup goes into a new one")
    keys = Path(current_app.config["EXCHANGE_KEYS_DIR"])
    members = key_files(keys)
    if not members:
        raise BackupRefused(f"{keys} holds no keys: is this an initialised instance?")
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    revision, checkpoint = _state_before_copy()
    kind = db.engine.dialect.name
    copy = folder / database_file(kind)
    copy_database(db.engine, copy)
    os.chmod(copy, 0o600)
    files = {copy.name: file_digest(copy)}
    for member in members:
        target = folder / KEYS_FOLDER / member
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copy2(keys / member, target)
        files[f"{KEYS_FOLDER}/{member.as_posix()}"] = file_digest(target)
    manifest = Manifest(
        created_at=utcnow().isoformat().replace("+00:00", "Z"),
        database_kind=kind,
        database_file=copy.name,
        schema_revision=revision,
        files=files,
        checkpoint=checkpoint,
    )
    # Written last: a folder with a manifest holds a complete backup.
    manifest.write(folder)
    return manifest


def _state_before_copy() -> tuple[str | None, SignedCheckpoint | None]:
    table = AuditCheckpoint.__table__
    try:
        connection = db.session.connection(execution_options={READ_ONLY: True})
        revision = MigrationContext.configure(connection).get_current_revision()
        row = connection.execute(
            db.select(table.c.size, table.c.root, table.c.note)
            .order_by(table.c.size.desc())
            .limit(1)
        ).first()
    finally:
        db.session.rollback()
    if row is None:
        return revision, None
    return revision, SignedCheckpoint(size=int(row.size), root=bytes(row.root), note=row.note)
