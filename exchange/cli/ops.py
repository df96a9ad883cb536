"""The operations listener of the ``exchange`` commands that run for long."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from flask import Flask

from exchange.cli.errors import CommandError
from exchange.ops.listener import start_ops_listener
from exchange.serving import Listener


def open_ops_listener(
    app: Flask, port: int | None, *, database_gauges: bool = True, **options: Any
) -> Listener:
    """The operations listener, or the command's refusal if its port is taken."""
    config = app.config
    port = config["EXCHANGE_OPS_PORT"] if port is None else port
    try:
        return start_ops_listener(app, port=port, database_gauges=database_gauges, **options)
    except OSError as error:
        where = f"{config['EXCHANGE_OPS_HOST']} port {port}"
        if os.strerror(errno.EADDRINUSE) in str(error):
            raise CommandError(
                f"cannot listen on {where}: another program is using it (see --ops-port)."
            ) from None
        raise CommandError(f"cannot listen on {where}: {error}") from None


@contextmanager
def process_ops_listener(app: Flask, port: int | None) -> Iterator[None]:
    """For `exchange integrator` and `worker`: an operations listener when given a port,
    showing this process's metrics only (the servers' listener reads the database's)."""
    if port is None:
        yield
        return
    ops = open_ops_listener(app, port, database_gauges=False)
    click.echo(f"operations:       {ops_url(app, ops)}")
    try:
        yield
    finally:
        ops.server.stop()


def ops_url(app: Flask, ops: Listener) -> str:
    scheme = "https" if app.config["EXCHANGE_OPS_TLS"] else "http"
    return f"{scheme}://{ops.server.bind_addr[0]}:{ops.port}/metrics"
