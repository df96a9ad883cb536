"""``exchange restore``: load a backup into an empty instance, then prove what it holds.

After loading, the whole log is verified as ``exchange audit verify`` does, the manifest's
checkpoint must be the restored log's at that size, and the newest checkpoint signed
after the restore must extend it (RFC 9162 §2.1.4 consistency proof).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from alembic.script import ScriptDirectory
from flask import current_app
from flask_migrate import upgrade
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from audit.checkpoint import Checkpoint
from audit.errors import AuditError
from audit.merkle import verify_consistency
from audit.note import NoteVerifier, open_note
from exchange.backups.database_copy import restore_database
from exchange.backups.manifest import Manifest, SignedCheckpoint
from exchange.backups.taking import KEYS_FOLDER, key_files
from exchange.database import READ_ONLY
from exchange.extensions import db
from exchange.pki.vault import VaultMissing, load_vault
from exchange.trail.full_verification import verify_log
from exchange.trail.integrator_process import build_integrator, log_origin
from exchange.trail.models import AuditCheckpoint
from exchange.trail.stored_tree import consistency_proof, root_at


class RestoreRefused(Exception):
    """The backup cannot be restored here; nothing was changed. The message says why."""


@dataclass
class Restored:
    leaves: int = 0
    checkpoint: int | None = None
    newest: int | None = None
    findings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


def check_restorable(manifest: Manifest) -> None:
    """Refuse before changing anything: another database kind, a newer schema, a used instance."""
    kind = db.engine.dialect.name
    if manifest.database_kind != kind:
        raise RestoreRefused(
            f"the backup is of a {manifest.database_kind} database; this instance uses {kind}"
        )
    if manifest.schema_revision is not None:
        scripts = ScriptDirectory(current_app.extensions["migrate"].directory)
        if manifest.schema_revision not in {script.revision for script in scripts.walk_revisions()}:
            raise RestoreRefused(
                f"the backup's schema revision {manifest.schema_revision} is newer than this "
                "release of the exchange; restore it with the release that wrote it"
            )
    keys = Path(current_app.config["EXCHANGE_KEYS_DIR"])
    if key_files(keys):
        raise RestoreRefused(
            f"{keys} already holds keys: restore into a new, empty instance "
            "(the keys folder may hold only the passphrase file)"
        )
    tables = inspect(db.engine).get_table_names()
    db.engine.dispose()
    if tables:
        raise RestoreRefused(
            f"the database already has {len(tables)} tables: restore into an empty database"
        )


def load_backup(folder: Path, manifest: Manifest) -> None:
    """Put the backup's keys and database in place, and bring the schema up to date."""
    # The database first: pg_restore loads it in one transaction, so a failure there
    # leaves the instance empty and the restore can be run again.
    restore_database(db.engine, folder / manifest.database_file)
    db.engine.dispose()
    keys = Path(current_app.config["EXCHANGE_KEYS_DIR"])
    keys.mkdir(parents=True, exist_ok=True)
    os.chmod(keys, 0o700)
    for name in manifest.files:
        if name.startswith(f"{KEYS_FOLDER}/"):
            target = keys / name.removeprefix(f"{KEYS_FOLDER}/")
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            shutil.copy2(folder / name, target)
    upgrade(directory=current_app.extensions["migrate"].directory)
    current_app.extensions.pop("exchange.vault", None)


def verify_restored(manifest: Manifest) -> Restored:
    """Verify the restored log, sign a checkpoint over it, and prove it extends the manifest's."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        signer = load_vault(app).log_signer(log_origin(app))
    except (VaultMissing, ValueError) as error:
        return Restored(
            findings=[f"the restored keys cannot be opened ({error}): check the key passphrase"]
        )
    verifier = NoteVerifier.from_verifier_key(signer.verifier_key())
    result = Restored()
    try:
        connection = db.session.connection(execution_options={READ_ONLY: True})
        report = verify_log(connection, verifier=verifier, workers=os.cpu_count() or 1)
        result.leaves = report.leaves
        result.findings += [str(finding) for finding in report.findings]
        if manifest.checkpoint is not None:
            result.checkpoint = manifest.checkpoint.size
            result.findings += _named_checkpoint(connection, verifier, manifest.checkpoint)
    finally:
        db.session.rollback()
    if not result.ok or manifest.checkpoint is None:
        return result
    # Entries committed before the copy but not yet sequenced get their leaves now, under a
    # checkpoint that must extend the one the witnesses may have cosigned.
    build_integrator(app).integrate(checkpoint=True)
    try:
        connection = db.session.connection(execution_options={READ_ONLY: True})
        result.newest, problem = _extends(connection, verifier, manifest.checkpoint)
    finally:
        db.session.rollback()
    if problem:
        result.findings.append(problem)
    return result


def _named_checkpoint(
    connection: Connection, verifier: NoteVerifier, named: SignedCheckpoint
) -> list[str]:
    try:
        checkpoint = Checkpoint.parse(open_note(named.note.encode(), verifiers=[verifier]).text)
    except AuditError as error:
        return [f"the manifest's checkpoint is not signed by the restored log key: {error}"]
    if (checkpoint.size, checkpoint.root) != (named.size, named.root):
        return ["the manifest's checkpoint fields differ from its signed note"]
    table = AuditCheckpoint.__table__
    stored = connection.execute(db.select(table.c.root).where(table.c.size == named.size)).scalar()
    if stored is None or bytes(stored) != named.root:
        return [f"the restored log has no checkpoint {named.size} with the manifest's root"]
    try:
        root = root_at(connection, named.size)
    except LookupError as error:
        return [f"the restored tree is incomplete at size {named.size}: {error}"]
    if root != named.root:
        return [f"the restored tree's root at size {named.size} is not the manifest's"]
    return []


def _extends(
    connection: Connection, verifier: NoteVerifier, named: SignedCheckpoint
) -> tuple[int | None, str | None]:
    table = AuditCheckpoint.__table__
    row = connection.execute(
        db.select(table.c.size, table.c.note).order_by(table.c.size.desc()).limit(1)
    ).first()
    if row is None:
        return None, "the restored log has no checkpoint"
    try:
        newest = Checkpoint.parse(open_note(row.note.encode(), verifiers=[verifier]).text)
        if named.size == 0 and newest.size > 0:
            # Every tree extends the empty one (RFC 9162 §2.1.4): nothing to prove.
            return newest.size, None
        if newest.size == named.size:
            if newest.root != named.root:
                return newest.size, "two roots for the manifest's checkpoint size"
            return newest.size, None
        verify_consistency(
            old_size=named.size,
            new_size=newest.size,
            old_root=named.root,
            new_root=newest.root,
            proof=consistency_proof(
                connection,
                old_size=named.size,
                new_size=newest.size,
            ),
        )
    except (AuditError, LookupError, ValueError) as error:
        return row.size, f"the newest checkpoint does not extend the manifest's: {error}"
    return newest.size, None
