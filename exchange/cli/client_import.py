"""``exchange client import``: publish the rows of a CSV or Excel sheet as signed records.

Every row is read and validated before anything is signed; a sheet with a bad row publishes
nothing, and the report says which row, which column and what is wrong.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from exchange.agencies.policy import PURPOSES
from exchange.cli.client import _client, _run
from exchange.cli.errors import CommandError
from exchange.client.import_publish import Limits, RecordTooLarge, publish_plan
from exchange.client.import_report import report_csv
from exchange.client.importer import ImportMapping, ImportPlan, load_mapping, plan_import
from exchange.client.sdk import ExchangeClient, bundle_agency
from exchange.client.tables import read_table_file
from schemas import RECORD_TYPES

_SHOWN_PROBLEMS = 20


def _describe(plan: ImportPlan) -> None:
    click.echo(
        f"{plan.source}: {plan.encoding}, {plan.record_type}, {plan.row_count} rows", err=True
    )
    mapped = ", ".join(f"{heading} → {path}" for heading, path in plan.columns.items())
    click.echo(f"columns: {mapped}", err=True)
    if plan.ignored:
        click.echo(f"ignored columns: {', '.join(plan.ignored)}", err=True)


def _show_problems(plan: ImportPlan) -> None:
    for problem in plan.problems[:_SHOWN_PROBLEMS]:
        value = f" 「{problem.value}」" if problem.value else ""
        click.echo(
            f"  row {problem.row}, {problem.column}{value}: {problem.message_ja} / "
            f"{problem.message}",
            err=True,
        )
    if len(plan.problems) > _SHOWN_PROBLEMS:
        click.echo(f"  … and {len(plan.problems) - _SHOWN_PROBLEMS} more", err=True)


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--type", "record_type", type=click.Choice(RECORD_TYPES), default=None)
@click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A JSON or TOML file naming the sheet's columns, for layouts the built-in table "
    "does not know.",
)
@click.option("--dry-run", is_flag=True, help="Validate and report; publish nothing.")
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the validation report here (CSV, Japanese and English).",
)
@click.option(
    "--purpose",
    type=click.Choice(PURPOSES),
    default="administrative_disposition",
    show_default=True,
    help="Stated when reading the current versions of the records to compare with.",
)
@click.pass_context
def import_command(
    context: click.Context,
    file: Path,
    record_type: str | None,
    mapping: Path | None,
    dry_run: bool,
    report: Path | None,
    purpose: str,
) -> None:
    """Import a CSV (UTF-8, UTF-8 with BOM or Shift_JIS) or .xlsx sheet: each row one record,
    published once; a changed row becomes the record's next version."""
    options = context.obj
    if options["bundle"] is None:
        raise click.UsageError("--bundle (or EXCHANGE_BUNDLE) is required for this command.")
    settings = load_mapping(mapping) if mapping else ImportMapping()
    table = read_table_file(file, sheet=settings.sheet, header_row=settings.header_row)
    plan = plan_import(
        table,
        publisher=bundle_agency(options["bundle"]),
        record_type=record_type,
        mapping=settings,
    )
    _describe(plan)
    if report is not None:
        report.write_bytes(report_csv(plan.problems))
    elif dry_run:
        sys.stdout.write(report_csv(plan.problems).decode("utf-8-sig"))
    if plan.problems:
        _show_problems(plan)
        where = f"; see {report}" if report else ""
        raise CommandError(
            f"{plan.invalid_rows} of {plan.row_count} rows have problems; "
            f"nothing was published{where}."
        )
    if dry_run:
        click.echo(f"dry run: {len(plan.rows)} rows valid; nothing was published.", err=True)
        return

    def action() -> None:
        with _client(context) as exchange:
            _publish(exchange, plan, purpose=purpose)

    _run(action)


def _publish(exchange: ExchangeClient, plan: ImportPlan, *, purpose: str) -> None:
    identity = exchange.request("GET", "/api/v1/identity")
    if identity["agency"]["id"] != plan.publisher:
        raise CommandError(
            f"the bundle's certificate is for {identity['agency']['id']}, not {plan.publisher}."
        )
    bar: Any = None

    def start(total: int) -> None:
        nonlocal bar
        bar = click.progressbar(length=total, label="publishing", file=sys.stderr)
        bar.__enter__()

    try:
        outcome = publish_plan(
            exchange,
            plan,
            purpose=purpose,
            limits=Limits.from_identity(identity),
            on_pending=start,
            progress=lambda done: bar.update(done),
        )
    except RecordTooLarge as error:
        raise CommandError(str(error)) from None
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    click.echo(
        f"published: {len(outcome.created)} new, {len(outcome.amended)} amended, "
        f"{len(outcome.unchanged)} unchanged, {len(outcome.withdrawn)} withdrawn left alone; "
        f"{outcome.batches} batches"
    )
