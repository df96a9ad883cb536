"""The ``exchange`` command: server administration and the agency client."""

from __future__ import annotations

from flask.cli import FlaskGroup

from exchange import create_app


def _create_app() -> object:
    return create_app()


main = FlaskGroup(
    create_app=_create_app,
    add_default_commands=True,
    add_version_option=False,
    load_dotenv=False,
    help="The inter-agency information-sharing exchange.",
)


def _register() -> None:
    from exchange.cli import admin, client, server

    for module in (server, admin):
        for command in module.COMMANDS:
            main.add_command(command)
    main.add_command(client.client)


_register()
