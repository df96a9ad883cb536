"""``exchange init``, ``exchange serve`` and ``exchange demo``."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade

from exchange.agencies.policy import ensure_default_policy
from exchange.checkpointer import WalCheckpointer
from exchange.cli.errors import CommandError
from exchange.cli.operator import operator_action
from exchange.cli.ops import open_ops_listener, ops_url
from exchange.extensions import db
from exchange.feeds.running import PushThread
from exchange.grants import grant_application_role
from exchange.ops.logs import configure_logging
from exchange.ops.metrics import forget_process, prepare_multiprocess_directory
from exchange.pki.rotation import public_names
from exchange.pki.vault import create_vault, load_vault
from exchange.retention.running import RetentionThread
from exchange.serving import ExchangeServer, PortsInUse, claimed_ports, settle_collector
from exchange.trail.integrator_process import IntegratorThread, build_integrator


def initialise(
    hostnames: tuple[str, ...] = ("localhost",), ip_addresses: tuple[str, ...] = ("127.0.0.1",)
) -> None:
    """Database by migrations, the CA and the exchange's keys, the default policy."""
    upgrade(directory=current_app.extensions["migrate"].directory)
    public_dns, public_ips = public_names(current_app)
    create_vault(
        current_app,
        hostnames=list(dict.fromkeys([*public_dns, *hostnames])),
        ip_addresses=list(dict.fromkeys([*public_ips, *ip_addresses])),
    )
    with operator_action("admin.init") as action:
        policy = ensure_default_policy(actor=action.actor)
        action.details["policy_version"] = policy.version


@click.command("init")
@click.option(
    "--hostname",
    "hostnames",
    multiple=True,
    default=("localhost",),
    show_default=True,
    help="DNS name for the server certificate (repeatable).",
)
@click.option(
    "--ip",
    "ip_addresses",
    multiple=True,
    default=("127.0.0.1",),
    show_default=True,
    help="IP address for the server certificate (repeatable).",
)
@with_appcontext
def init_command(hostnames: tuple[str, ...], ip_addresses: tuple[str, ...]) -> None:
    """Create the database (by migrations), the CA and the exchange's keys."""
    initialise(hostnames, ip_addresses)
    vault = load_vault()
    click.echo(f"database: {current_app.config['SQLALCHEMY_DATABASE_URI']}")
    click.echo(f"keys:     {vault.directory}")


@click.command("serve")
@click.option("--host", default=None, help="Address to bind (default from configuration).")
@click.option("--api-port", type=int, default=None, help="mTLS API listener port.")
@click.option("--ui-port", type=int, default=None, help="TLS listener for the web UI.")
@click.option("--threads", type=int, default=None, help="Worker threads per listener.")
@click.option(
    "--processes",
    type=int,
    default=1,
    show_default=True,
    help="Server processes sharing the ports; one per core uses them all.",
)
@click.option(
    "--ops-port",
    type=int,
    default=None,
    help="Operations listener port: /healthz, /readyz, /metrics (default from configuration).",
)
@click.option("--reuse-port", is_flag=True, hidden=True)
@click.option("--no-ops", is_flag=True, hidden=True)
@with_appcontext
def serve_command(
    host: str | None,
    api_port: int | None,
    ui_port: int | None,
    threads: int | None,
    processes: int,
    ops_port: int | None,
    reuse_port: bool,
    no_ops: bool,
) -> None:
    """Serve the API over mutual TLS and the web UI over TLS."""
    config = current_app.config
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    configure_logging(app)
    if processes > 1:
        host = host or config["EXCHANGE_API_HOST"]
        api_port = config["EXCHANGE_API_PORT"] if api_port is None else api_port
        ui_port = config["EXCHANGE_UI_PORT"] if ui_port is None else ui_port
        if not api_port or not ui_port:
            raise CommandError("server processes share fixed ports: port 0 is not one.")
        try:
            with claimed_ports(host, (api_port, ui_port)):
                _serve_processes(
                    processes,
                    ops_port=ops_port,
                    host=host,
                    api_port=api_port,
                    ui_port=ui_port,
                    threads=threads,
                )
        except PortsInUse as refused:
            raise CommandError(str(refused)) from None
        return
    server = ExchangeServer(
        app=current_app._get_current_object(),  # type: ignore[attr-defined]
        host=host or config["EXCHANGE_API_HOST"],
        api_port=config["EXCHANGE_API_PORT"] if api_port is None else api_port,
        ui_port=config["EXCHANGE_UI_PORT"] if ui_port is None else ui_port,
        threads=threads or config["EXCHANGE_SERVER_THREADS"],
        reuse_port=reuse_port,
    )
    settle_collector()
    try:
        server.start()
    except OSError as error:
        message = _cannot_listen(server, error)
        server.stop()
        raise CommandError(message) from None
    # A server process started by `serve --processes` leaves the listener to its parent.
    ops = None if no_ops else open_ops_listener(app, ops_port)
    background: list[IntegratorThread | PushThread | WalCheckpointer | RetentionThread] = []
    engine = db.engine
    if engine.dialect.name == "sqlite" and engine.url.database:
        background.append(WalCheckpointer(engine.url.database))
    if config["EXCHANGE_INTEGRATOR"] == "inline":
        background.append(IntegratorThread(app))
    if config["EXCHANGE_PUSH"] == "inline":
        background.append(PushThread(app))
    if config["EXCHANGE_RETENTION"] == "inline":
        background.append(RetentionThread(app))
    for thread in background:
        thread.start()
    click.echo(f"API (mutual TLS): https://{server.host}:{server.api.port}/api/v1/")
    click.echo(f"web (TLS):        https://{server.host}:{server.ui.port}/")
    click.echo(f"CA certificate:   {load_vault().ca_path}")
    if ops is not None:
        click.echo(f"operations:       {ops_url(app, ops)}")

    def _stop(signum: int, frame: object) -> None:
        server.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    server.wait()
    for thread in background:
        thread.stop()
    if ops is not None:
        ops.server.stop()


def _cannot_listen(server: ExchangeServer, error: OSError) -> str:
    # cheroot reports a failed bind as a bare OSError naming the address, without errno.
    failed = next((each for each in server.listeners if each.server.socket is None), None)
    where = f"{server.host} port {failed.port}" if failed else server.host
    if os.strerror(errno.EADDRINUSE) in str(error):
        return f"cannot listen on {where}: another program is using it (see --api-port, --ui-port)."
    return f"cannot listen on {where}: {error}"


def _serve_processes(count: int, *, ops_port: int | None, **options: object) -> None:
    """Start ``count`` single-process servers on the same ports and wait for them.

    This process serves the operations listener for them all: their counters and
    histograms go to files in the instance folder (cleaned first), which it sums. The
    caller holds the ports' claim while they run, so that no other exchange joins them.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    summed = Path(app.instance_path) / "metrics"
    prepare_multiprocess_directory(summed)
    arguments = [sys.executable, "-m", "exchange", "serve", "--reuse-port", "--no-ops"]
    for name, value in options.items():
        if value is not None:
            arguments += [f"--{name.replace('_', '-')}", str(value)]
    children = [subprocess.Popen(arguments) for _ in range(count)]  # noqa: S603
    try:
        ops = open_ops_listener(
            app, ops_port, summed=summed, alive=lambda: all(c.poll() is None for c in children)
        )
    except CommandError:
        for child in children:
            child.terminate()
        raise
    click.echo(f"operations:       {ops_url(app, ops)}")

    def _stop(signum: int, frame: object) -> None:
        for child in children:
            child.terminate()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    for child in children:
        child.wait()
        forget_process(child.pid)
    ops.server.stop()


@click.command("demo")
@click.option(
    "--records", "count", type=int, default=48, show_default=True, help="Records to publish."
)
@with_appcontext
def demo_command(count: int) -> None:
    """Initialise if needed, then load demo agencies, systems, keys and records."""
    from exchange.demo.loader import auditor_bundle_dir, load_demo
    from exchange.demo.notices import load_demo_notices
    from exchange.demo.people import load_demo_people

    initialise()
    summary = load_demo(record_count=count)
    passwords = Path(current_app.instance_path) / "demo-users.txt"
    load_demo_people(passwords)
    notices = load_demo_notices()
    integrated = build_integrator(current_app._get_current_object()).integrate(  # type: ignore[attr-defined]
        checkpoint=True
    )
    bundles = Path(current_app.config["EXCHANGE_BUNDLES_DIR"])
    click.echo(
        f"agencies: {summary.agencies}, systems: {summary.systems}, records: {summary.records}, "
        f"referrals: {summary.referrals}, notices abroad: {notices}"
    )
    click.echo(f"audit log: {integrated.size} entries under a signed checkpoint")
    click.echo(f"client bundles: {bundles}/<agency>-gateway/")
    click.echo(
        f"auditor system: {auditor_bundle_dir(bundles)}/ (role auditor: access trails, "
        "/api/v1/audit/entries, /api/v1/audit/lookup)"
    )
    click.echo(
        "try:  exchange client --bundle "
        f"{bundles}/isa-gateway search --purpose investigation --type broker"
    )
    ui_port = current_app.config["EXCHANGE_UI_PORT"]
    click.echo(
        f"web UI: https://127.0.0.1:{ui_port}/ — demo users (user, password, role, agency) "
        f"in {passwords}; each enrols an authenticator app (TOTP) at first sign-in:"
    )
    for line in passwords.read_text(encoding="utf-8").splitlines():
        click.echo("  " + line.replace("\t", "  "))


@click.command("grant-app-role")
@click.argument("role")
@with_appcontext
def grant_app_role_command(role: str) -> None:
    """PostgreSQL: let ROLE serve the exchange, with no UPDATE or DELETE on the log tables."""
    with operator_action("admin.database.grant", role=role):
        for statement in grant_application_role(db.session.connection(), role):
            click.echo(statement)


COMMANDS = (init_command, serve_command, demo_command, grant_app_role_command)
