"""``exchange retention run|holds|hold|approve|lift``: disposal and legal holds."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from exchange.cli.operator import operator_action
from exchange.clock import utcnow
from exchange.extensions import db
from exchange.records.models import Record
from exchange.retention.holds import (
    approve_hold,
    lift_hold,
    list_holds,
    record_id_of,
    request_hold,
)
from exchange.retention.models import LegalHold
from exchange.retention.running import DISPOSE_ACTION, dispose_batch


@click.group("retention")
def retention() -> None:
    """Disposal of records past their retention date, and legal holds that stop it."""


@retention.command("run")
@with_appcontext
def retention_run() -> None:
    """Dispose of every record past its retention date that no hold keeps."""
    limit = int(current_app.config["EXCHANGE_RETENTION_BATCH"])
    total = 0
    while True:
        with operator_action(DISPOSE_ACTION) as action:
            result = dispose_batch(entry_id=action.entry_id, now=utcnow(), limit=limit)
            action.targets = result.versions
            action.details.update(records=result.records, held=result.held)
        total += result.records
        if result.records < limit:
            break
    click.echo(f"disposed of {total} records; {result.held} past their date are held")


def _targets(hold: LegalHold) -> list[tuple[str, int]]:
    record = db.session.get(Record, hold.record_pk)
    return [(record_id_of(hold), record.version if record else 0)]


@retention.command("holds")
@click.option("--all", "everything", is_flag=True, help="Lifted holds too.")
@with_appcontext
def retention_holds(everything: bool) -> None:
    """Holds awaiting approval or in force."""
    with operator_action("admin.hold.list") as action:
        holds = list_holds(actor=action.actor, include_lifted=everything)
    for hold, record_id in holds:
        state = "lifted" if hold.lifted_at else "in force" if hold.approved_at else "awaiting"
        click.echo(
            f"{hold.id}\t{record_id}\t{state}\tasked by {hold.requested_by}"
            + (f", approved by {hold.approved_by}" if hold.approved_by else "")
            + f"\t{hold.reason}"
        )


@retention.command("hold")
@click.argument("record_id")
@click.option("--reason", required=True, help="Why the record must be kept (required).")
@with_appcontext
def retention_hold(record_id: str, reason: str) -> None:
    """Ask for a legal hold on RECORD_ID; a second administrator approves it."""
    with operator_action("admin.hold.request", record=record_id) as action:
        hold = request_hold(actor=action.actor, record_id=record_id, reason=reason)
        action.targets = _targets(hold)
        action.details["hold"] = hold.id
    click.echo(f"hold {hold.id} asked for; another administrator approves it with:")
    click.echo(f"  exchange retention approve {hold.id}")


@retention.command("approve")
@click.argument("hold_id", type=int)
@with_appcontext
def retention_approve(hold_id: int) -> None:
    """Approve hold HOLD_ID (not the administrator who asked for it)."""
    with operator_action("admin.hold.approve", hold=hold_id) as action:
        hold = approve_hold(actor=action.actor, hold_id=hold_id)
        action.targets = _targets(hold)
    click.echo(f"hold {hold.id} in force: the record is not disposed of until it is lifted")


@retention.command("lift")
@click.argument("hold_id", type=int)
@click.option("--reason", required=True, help="Why the hold ends (required).")
@with_appcontext
def retention_lift(hold_id: int, reason: str) -> None:
    """Lift hold HOLD_ID: the record is disposed of at the next run if its date has passed."""
    with operator_action("admin.hold.lift", hold=hold_id) as action:
        hold = lift_hold(actor=action.actor, hold_id=hold_id, reason=reason)
        action.targets = _targets(hold)
    click.echo(f"hold {hold.id} lifted")


COMMANDS = (retention,)
