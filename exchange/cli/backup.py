"""``exchange backup DIR`` and ``exchange restore DIR``."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from exchange.backups.database_copy import CopyFailed
from exchange.backups.manifest import ManifestError, read_manifest
from exchange.backups.restoring import (
    RestoreRefused,
    check_restorable,
    load_backup,
    verify_restored,
)
from exchange.backups.taking import BackupRefused, take_backup
from exchange.cli.errors import CommandError
from exchange.cli.operator import operator_action


@click.command("backup")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def backup_command(folder: Path) -> None:
    """Copy the database and the keys into FOLDER (new or empty), with a manifest."""
    try:
        manifest = take_backup(folder)
    except (BackupRefused, CopyFailed) as error:
        raise CommandError(str(error)) from None
    checkpoint = manifest.checkpoint
    with operator_action(
        "admin.backup",
        folder=str(folder.resolve()),
        database=manifest.files[manifest.database_file],
        checkpoint=checkpoint.size if checkpoint else None,
    ):
        pass
    click.echo(f"database ({manifest.database_kind}): {folder / manifest.database_file}")
    click.echo(
        f"keys: {folder / 'keys'} (encrypted with the key passphrase, which is not in the "
        "backup: keep it apart)"
    )
    if checkpoint:
        click.echo(f"checkpoint: size {checkpoint.size}")
    else:
        click.echo("checkpoint: none signed yet")


@click.command("restore")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@with_appcontext
def restore_command(folder: Path) -> None:
    """Restore a backup into this empty instance, then verify the restored log."""
    try:
        manifest = read_manifest(folder)
        check_restorable(manifest)
        load_backup(folder, manifest)
    except (ManifestError, RestoreRefused, CopyFailed) as error:
        raise CommandError(str(error)) from None
    result = verify_restored(manifest)
    with operator_action(
        "admin.backup.restore",
        backup_created_at=manifest.created_at,
        checkpoint=result.checkpoint,
        newest=result.newest,
        leaves=result.leaves,
        ok=result.ok,
    ):
        pass
    click.echo(f"restored the backup of {manifest.created_at} ({manifest.database_kind})")
    for finding in result.findings:
        click.echo(f"FAILED {finding}", err=True)
    if not result.ok:
        raise CommandError(
            "the restored log does not verify: keep the instance out of service "
            "and compare it with another backup"
        )
    click.echo(f"{result.leaves} leaves verified")
    if result.checkpoint is None:
        click.echo("the backup names no checkpoint: nothing to prove it extends")
    else:
        click.echo(
            f"the log extends the backup's checkpoint {result.checkpoint} "
            f"(newest checkpoint {result.newest})"
        )


COMMANDS = (backup_command, restore_command)
