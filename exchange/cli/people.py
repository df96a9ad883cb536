"""``exchange user``: web UI accounts, at the server's console."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from exchange.auth import service as people
from exchange.auth.models import USER_ROLES
from exchange.cli.operator import operator_action


@click.group("user")
def user() -> None:
    """People who use the web UI: liaison officers, auditors, administrators."""


@user.command("add")
@click.argument("username")
@click.option("--agency", "agency_id", required=True)
@click.option("--name", "display_name", required=True, help="Name shown in the UI.")
@click.option("--role", "roles", multiple=True, type=click.Choice(USER_ROLES), required=True)
@click.password_option(help="At least 12 characters; asked for when not given.")
@with_appcontext
def user_add(
    username: str, agency_id: str, display_name: str, roles: tuple[str, ...], password: str
) -> None:
    """Add a user; they set up their second factor at their first sign-in."""
    with operator_action(
        "admin.user.create", user=username, agency=agency_id, roles=" ".join(roles)
    ) as action:
        people.create_user(
            actor=action.actor,
            username=username,
            display_name=display_name,
            agency_id=agency_id,
            roles=roles,
            password=password,
        )
    click.echo(f"user {username} ({', '.join(roles)}) added to {agency_id}")


@user.command("list")
@click.option("--agency", "agency_id", default=None)
@with_appcontext
def user_list(agency_id: str | None) -> None:
    """List users."""
    with operator_action("admin.user.list"):
        for item in people.list_users(agency_id):
            state = "disabled" if item.disabled_at else ("2fa" if item.totp_enrolled_at else "new")
            click.echo(f"{item.username:<20} {item.agency_id:<12} {item.roles:<24} {state}")


@user.command("reset-second-factor")
@click.argument("username")
@with_appcontext
def user_reset_second_factor(username: str) -> None:
    """Forget the user's authenticator: they enrol a new one at their next sign-in."""
    with operator_action("admin.user.reset_second_factor", user=username) as action:
        people.reset_second_factor(actor=action.actor, user=people.get_user(username))
    click.echo(f"second factor of {username} reset; their sessions ended")


@user.command("unlock")
@click.argument("username")
@with_appcontext
def user_unlock(username: str) -> None:
    """Lift a lockout after failed sign-ins."""
    with operator_action("admin.user.unlock", user=username):
        account = people.get_user(username)
        account.locked_until = None
        account.failed_logins = 0
    click.echo(f"{username} unlocked")


@user.command("link-oidc")
@click.argument("username")
@click.option("--issuer", required=True, help="The identity provider's issuer URL.")
@click.option("--subject", required=True, help="The user's 'sub' at that provider.")
@with_appcontext
def user_link_oidc(username: str, issuer: str, subject: str) -> None:
    """Let the user sign in through their agency's identity provider (OpenID Connect)."""
    with operator_action("admin.user.link_oidc", user=username, issuer=issuer) as action:
        people.link_oidc(
            actor=action.actor, user=people.get_user(username), issuer=issuer, subject=subject
        )
    click.echo(f"{username} signs in as {subject} at {issuer}")


COMMANDS = (user,)
