"""``exchange worker`` and ``exchange subscription …``: push delivery and its operation."""

from __future__ import annotations

import json
import signal
import threading

import click
from flask import current_app
from flask.cli import with_appcontext

from exchange.cli.operator import operator_action
from exchange.cli.ops import process_ops_listener
from exchange.feeds import deadletters, service
from exchange.feeds.running import run_push
from exchange.ops.logs import configure_logging


@click.command("worker")
@click.option("--threads", type=int, default=None, help="Deliveries in flight at once.")
@click.option(
    "--ops-port",
    type=int,
    default=None,
    help="Serve /healthz, /readyz and this process's /metrics on this port.",
)
@with_appcontext
def worker_command(threads: int | None, ops_port: int | None) -> None:
    """Deliver push subscriptions (several workers share the work on PostgreSQL)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    configure_logging(app)
    stop = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo("push delivery worker (stops on SIGTERM)")
    with process_ops_listener(app, ops_port):
        run_push(app, stop=stop, threads=threads or int(app.config["EXCHANGE_PUSH_THREADS"]))


@click.group("subscription")
def subscription() -> None:
    """Agencies' subscriptions: list, pause, resume, delete, dead letters, redrive."""


@subscription.command("list")
@with_appcontext
def subscription_list() -> None:
    """Every subscription with its state and cursor."""
    with operator_action("admin.subscription.list") as action:
        for item in service.list_subscriptions(actor=action.actor):
            document = service.subscription_document(item)
            click.echo(
                f"{item.id}  {item.agency_id:<12} {item.mode:<5} {item.state:<7} "
                f"cursor={item.cursor} dead={document['dead_letters']}  {item.name}"
            )


def _state(subscription_id: str, state: str) -> None:
    with operator_action(f"admin.subscription.{state}", subscription=subscription_id) as action:
        service.set_state(actor=action.actor, subscription_id=subscription_id, state=state)
    click.echo(f"subscription {subscription_id} {state}")


@subscription.command("pause")
@click.argument("subscription_id")
@with_appcontext
def subscription_pause(subscription_id: str) -> None:
    """Stop deliveries until resumed."""
    _state(subscription_id, "paused")


@subscription.command("resume")
@click.argument("subscription_id")
@with_appcontext
def subscription_resume(subscription_id: str) -> None:
    """Deliver again, from where it stopped."""
    _state(subscription_id, "active")


@subscription.command("delete")
@click.argument("subscription_id")
@with_appcontext
def subscription_delete(subscription_id: str) -> None:
    """End a subscription."""
    with operator_action("admin.subscription.delete", subscription=subscription_id) as action:
        service.delete_subscription(actor=action.actor, subscription_id=subscription_id)
    click.echo(f"subscription {subscription_id} deleted")


@subscription.command("dead-letters")
@click.argument("subscription_id")
@with_appcontext
def subscription_dead_letters(subscription_id: str) -> None:
    """Events push delivery gave up on, as JSON lines."""
    with operator_action("admin.subscription.dead_letters", subscription=subscription_id) as action:
        found = service.get_subscription(actor=action.actor, subscription_id=subscription_id)
        for item in deadletters.dead_letter_documents(found.id):
            click.echo(json.dumps(item))


@subscription.command("redrive")
@click.argument("subscription_id")
@with_appcontext
def subscription_redrive(subscription_id: str) -> None:
    """Send the parked events again, ahead of the feed."""
    with operator_action("admin.subscription.redrive", subscription=subscription_id) as action:
        found = service.get_subscription(actor=action.actor, subscription_id=subscription_id)
        count = deadletters.redrive(subscription=found)
        action.details["redriven"] = count
    click.echo(f"{count} events redriven")


COMMANDS = (worker_command, subscription)
