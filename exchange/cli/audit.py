"""``exchange integrator`` and ``exchange audit verify|export|lookup|checkpoint``."""

from __future__ import annotations

import os
import signal
import sys
import threading
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from audit.note import Note, NoteVerifier
from exchange.cli.operator import operator_action
from exchange.cli.ops import process_ops_listener
from exchange.extensions import db
from exchange.ops.logs import configure_logging
from exchange.pki.vault import load_vault
from exchange.trail.evidence_bundle import ExportFilter, export_log
from exchange.trail.full_verification import verify_log
from exchange.trail.integrator_process import build_integrator, log_origin, run_integrator
from exchange.trail.published_log import (
    AUDITOR,
    checkpoint_row,
    cosigned_note,
    newest_cosigned_size,
)
from exchange.trail.signed_state import SignedStateMismatch
from exchange.trail.stored_tree import integrated_size
from exchange.trail.term_lookup import lookup_term


@click.command("integrator")
@click.option("--once", is_flag=True, help="Integrate what is committed, checkpoint, exit.")
@click.option(
    "--ops-port",
    type=int,
    default=None,
    help="Serve /healthz, /readyz and this process's /metrics on this port.",
)
@with_appcontext
def integrator_command(once: bool, ops_port: int | None) -> None:
    """Run the audit log's integrator (one active at a time; others stand by)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    configure_logging(app)
    if once:
        try:
            result = build_integrator(app).integrate(checkpoint=True)
        except SignedStateMismatch as mismatch:
            click.echo(f"integrator refuses to sign: {mismatch}", err=True)
            sys.exit(1)
        click.echo(f"integrated {result.integrated}; tree size {result.size}")
        return
    stop = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo(f"integrator for {log_origin(app)} (stops on SIGTERM)")
    with process_ops_listener(app, ops_port):
        status = run_integrator(app, stop=stop, exit_on_refusal=True)
    if status.refusing:
        click.echo(f"integrator refuses to sign: {status.detail}", err=True)
        sys.exit(1)


@click.group("audit")
def audit() -> None:
    """The verifiable audit log."""


def _verifier(key: str | None) -> NoteVerifier:
    if key:
        return NoteVerifier.from_verifier_key(key)
    signer = load_vault().log_signer(log_origin(current_app))
    return NoteVerifier.from_verifier_key(signer.verifier_key())


@audit.command("verify")
@click.option("--key", default=None, help="Trusted verifier key (default: the exchange's own).")
@with_appcontext
def audit_verify(key: str | None) -> None:
    """Re-derive every leaf and root; name the first entry that does not match."""
    connection = db.session.connection()
    with operator_action("admin.audit.verify") as action:
        total = integrated_size(connection)
        with click.progressbar(
            length=total, label="verifying", file=sys.stderr, show_pos=True
        ) as bar:
            report = verify_log(
                connection,
                verifier=_verifier(key),
                progress=bar.update,
                workers=os.cpu_count() or 1,
            )
        action.details.update(
            {"leaves": report.leaves, "ok": report.ok, "checkpoints": report.checkpoints}
        )
    click.echo(
        f"{report.leaves} leaves, {report.checkpoints} signed checkpoints "
        f"(latest {report.latest_checkpoint})"
    )
    for finding in report.findings:
        click.echo(f"FAILED {finding}", err=True)
    if not report.ok:
        sys.exit(1)
    click.echo("log verified: every entry matches the signed checkpoints")


@audit.command("export")
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--agency", default=None, help="Only entries of this agency's systems.")
@click.option("--action", "action_name", default=None, help="Only this action.")
@click.option("--record", default=None, help="Only entries that touched this record.")
@click.option("--since", type=click.DateTime(), default=None, help="UTC, inclusive.")
@click.option("--until", type=click.DateTime(), default=None, help="UTC, exclusive.")
@click.option(
    "--size",
    "chosen_size",
    type=click.IntRange(min=1),
    default=None,
    help="The checkpoint to export up to (default: the newest one a witness cosigned, "
    "else the newest).",
)
@with_appcontext
def audit_export(
    output: Path,
    agency: str | None,
    action_name: str | None,
    record: str | None,
    since: datetime | None,
    until: datetime | None,
    chosen_size: int | None,
) -> None:
    """Write entries with a checkpoint, its cosignatures (and proofs) for the offline
    verifier."""
    from exchange.clock import as_utc

    selection = ExportFilter(
        agency=agency,
        action=action_name,
        record=record,
        since=as_utc(since) if since else None,
        until=as_utc(until) if until else None,
    )
    with operator_action("admin.audit.export", output=str(output)) as action:
        connection = db.session.connection()
        if chosen_size is None:
            chosen_size = newest_cosigned_size(connection)
        size, note = cosigned_note(size=chosen_size)
        with output.open("w", encoding="utf-8") as stream:
            count = export_log(connection, stream, size=size, note=note, selection=selection)
        action.details.update({"size": size, "entries": count, "complete": selection.empty})
    witnesses = _cosigned_by(note)
    click.echo(
        f"{count} entries, checkpoint size {size}, "
        f"cosigned by {', '.join(witnesses) if witnesses else 'no witness'}: {output}"
    )
    signer = load_vault().log_signer(log_origin(current_app))
    hint = f"python -m audit verify {output} --key {signer.verifier_key()}"
    if witnesses:
        hint += " --witness WITNESS_VKEY --quorum 1"
    click.echo(f"verify with: {hint}")


def _cosigned_by(note: str) -> list[str]:
    """The names on a note's signature lines other than the log's own (C2SP signed-note)."""
    origin = log_origin(current_app)
    return [
        signature.name
        for signature in Note.parse(note.encode()).signatures
        if signature.name != origin
    ]


@audit.command("lookup")
@click.argument("term")
@with_appcontext
def audit_lookup(term: str) -> None:
    """Entries whose search term or card token hashes to TERM."""
    with operator_action("admin.audit.lookup") as action:
        # The operator at the server's console may act as the log's auditor.
        auditor = replace(action.actor, roles=action.actor.roles | {AUDITOR})
        result = lookup_term(
            actor=auditor,
            term=term,
            since=None,
            limit=1000,
        )
        action.details["term"] = result["hash"]
    click.echo(result["hash"])
    for entry in result["entries"]:
        click.echo(
            f"{entry['time']}  {entry['agency']}/{entry['system']}  {entry['action']}  "
            f"purpose={entry['purpose']}  leaf={entry['index']}"
        )


@audit.command("checkpoint")
@with_appcontext
def audit_checkpoint() -> None:
    """Print the latest checkpoint and the log's verifier key."""
    with operator_action("admin.audit.checkpoint"):
        checkpoint_row(db.session.connection())
        _, note = cosigned_note()
    click.echo(note, nl=False)
    signer = load_vault().log_signer(log_origin(current_app))
    click.echo(f"\nverifier key: {signer.verifier_key()}")


COMMANDS = (integrator_command, audit)
