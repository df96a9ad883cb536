"""The ``exchange`` command: server administration and the agency client."""

from __future__ import annotations

from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup

from exchange import create_app
from exchange.cli.errors import MISTAKES, mistake_error


def _create_app() -> Flask:
    return create_app()


class ExchangeCommandLine(FlaskGroup):
    """The entry point: every command's mistakes are answered here, in one way."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MISTAKES as error:
            raise mistake_error(error) from error


main = ExchangeCommandLine(
    create_app=_create_app,
    add_default_commands=True,
    add_version_option=False,
    load_dotenv=False,
    help="The inter-agency information-sharing exchange.",
)


def register(app: Flask) -> None:
    """Server-side commands live on the app, so ``app.test_cli_runner()`` sees them."""
    from exchange.cli import admin, audit, backup, feeds, people, retention, rotate, server

    for module in (server, admin, audit, feeds, people, rotate, backup, retention):
        for command in module.COMMANDS:
            app.cli.add_command(command)


def _register_client() -> None:
    # The agency client needs no application: it talks to one over the network.
    from exchange.cli.client import client
    from exchange.cli.client_import import import_command

    client.add_command(import_command)
    main.add_command(client)


_register_client()
