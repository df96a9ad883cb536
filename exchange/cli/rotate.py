"""``exchange rotate``: the exchange's receipt key, delivery and server certificates, and CA.

Each command is an audited operator action; a running server takes the new keys and
certificates up within a second, without a restart. The runbook is ``docs/rotation.md``.
"""

from __future__ import annotations

from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext

from exchange.cli.operator import operator_action
from exchange.clock import rfc3339, utcnow
from exchange.pki.rotation import (
    OWN_CERTIFICATE_DAYS,
    begin_ca_rotation,
    end_receipt_overlap,
    finish_ca_rotation,
    rotate_delivery_certificate,
    rotate_receipt_key,
    rotate_server_certificate,
)
from exchange.pki.vault import load_vault


@click.group("rotate")
def rotate() -> None:
    """Rotate the exchange's own keys and certificates, with an overlap."""


@rotate.command("receipt-key")
@click.option(
    "--overlap-days",
    type=click.FloatRange(min=0),
    default=None,
    help="Days the new key is published before it signs (default EXCHANGE_ROTATION_OVERLAP_DAYS).",
)
@click.option(
    "--end-overlap",
    is_flag=True,
    help="Let the key already waiting sign from now on, instead of publishing another.",
)
@with_appcontext
def receipt_key_command(overlap_days: float | None, end_overlap: bool) -> None:
    """Publish a new receipt key now; it signs receipts and deliveries after the overlap."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    now = utcnow()
    if end_overlap:
        with operator_action("admin.rotate.receipt_key.end_overlap") as action:
            key = end_receipt_overlap(app, now=now)
            action.details.update(kid=key.kid, signs_from=rfc3339(key.signs_from))
        click.echo(f"receipt key {key.kid} signs from now on; the one before it is retired")
        return
    days = overlap_days
    if days is None:
        days = float(app.config["EXCHANGE_ROTATION_OVERLAP_DAYS"])
    with operator_action("admin.rotate.receipt_key", overlap_days=days) as action:
        key = rotate_receipt_key(app, overlap=timedelta(days=days), now=now)
        action.details.update(kid=key.kid, signs_from=rfc3339(key.signs_from))
    click.echo(f"receipt key {key.kid} published; it signs from {rfc3339(key.signs_from)}")


_DAYS = click.option(
    "--days",
    type=click.IntRange(min=1),
    default=OWN_CERTIFICATE_DAYS,
    show_default=True,
    help="Days the new certificate is valid.",
)


@rotate.command("delivery")
@_DAYS
@with_appcontext
def delivery_command(days: int) -> None:
    """A new key and client certificate for push deliveries."""
    with operator_action("admin.rotate.delivery") as action:
        issued = rotate_delivery_certificate(
            current_app._get_current_object(),  # type: ignore[attr-defined]
            valid_days=days,
        )
        action.details.update(fingerprint=issued.fingerprint, not_after=rfc3339(issued.not_after))
    click.echo(f"delivery certificate {issued.fingerprint[:16]}… until {issued.not_after:%Y-%m-%d}")


@rotate.command("server-certificate")
@click.option(
    "--hostname",
    "hostnames",
    multiple=True,
    help="DNS name besides EXCHANGE_PUBLIC_URL's (repeatable; default: the current ones).",
)
@click.option(
    "--ip",
    "ip_addresses",
    multiple=True,
    help="IP address besides EXCHANGE_PUBLIC_URL's (repeatable; default: the current ones).",
)
@_DAYS
@with_appcontext
def server_certificate_command(
    hostnames: tuple[str, ...], ip_addresses: tuple[str, ...], days: int
) -> None:
    """A new key and TLS certificate for the listeners, named after EXCHANGE_PUBLIC_URL."""
    with operator_action("admin.rotate.server_certificate") as action:
        issued = rotate_server_certificate(
            current_app._get_current_object(),  # type: ignore[attr-defined]
            hostnames=list(hostnames),
            ip_addresses=list(ip_addresses),
            valid_days=days,
        )
        action.details.update(fingerprint=issued.fingerprint, not_after=rfc3339(issued.not_after))
    click.echo(f"server certificate {issued.fingerprint[:16]}… until {issued.not_after:%Y-%m-%d}")


@rotate.command("ca")
@click.option("--begin", "step", flag_value="begin", help="Create the new CA; trust both.")
@click.option("--finish", "step", flag_value="finish", help="Retire the old CA.")
@click.option(
    "--force", is_flag=True, help="Finish although some systems have no new certificate yet."
)
@with_appcontext
def ca_command(step: str | None, force: bool) -> None:
    """Rotate the CA: --begin a transition in which both are trusted, then --finish it."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if step == "begin":
        with operator_action("admin.rotate.ca.begin") as action:
            incoming = begin_ca_rotation(app, now=utcnow())
            action.details["subject"] = incoming.certificate.subject.rfc4514_string()
        click.echo(f"new CA {incoming.certificate.subject.rfc4514_string()}: issues client")
        click.echo("certificates from now on; both CAs are trusted until `rotate ca --finish`")
        return
    if step == "finish":
        with operator_action("admin.rotate.ca.finish", force=force) as action:
            finished = finish_ca_rotation(app, actor=action.actor, now=utcnow(), force=force)
            action.details["revoked"] = [c.fingerprint for c in finished.revoked]
        click.echo(f"CA is now {finished.ca.certificate.subject.rfc4514_string()}")
        click.echo(f"{len(finished.revoked)} client certificates of the old CA revoked")
        click.echo(f"clients trust: {load_vault(app).directory / 'ca.pem'}")
        return
    raise click.UsageError("say --begin or --finish")


COMMANDS = (rotate,)
