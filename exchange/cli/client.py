"""``exchange client``: what an agency system does, from the command line.

Runs on the agency's side with a client bundle; it needs no server-side configuration.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exchange.agencies.policy import PURPOSES
from exchange.cli.errors import (
    CommandError,
    ExchangeUnreachable,
    NotVerified,
    problem_message,
)
from exchange.client.auditlog import (
    Witness,
    fetch_checkpoint,
    pinned_log_key,
    prove_publication,
)
from exchange.client.feeds import (
    CursorFileError,
    create_subscription,
    follow,
    list_subscriptions,
)
from exchange.client.sdk import ExchangeClient, ExchangeError, VerificationError, VerifiedRecord
from exchange.textfiles import read_json
from keys.jwk import generate_signing_key, private_jwk, public_jwk, thumbprint
from keys.pop import make_proof


def _client(context: click.Context) -> ExchangeClient:
    options = context.obj
    if options["bundle"] is None:
        raise click.UsageError("--bundle (or EXCHANGE_BUNDLE) is required for this command.")
    return ExchangeClient.from_bundle(options["bundle"], base_url=options["url"])


def _emit(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _verified(item: VerifiedRecord) -> dict[str, Any]:
    return {
        "record": item.record,
        "verified": {
            "signature": True,
            "kid": item.kid,
            "key_status": item.key_status,
            "key_compromised": item.key_compromised,
            "receipt": {k: v for k, v in asdict(item.receipt).items() if k != "token"},
        },
    }


def _run(action: Any) -> None:
    """Run ``action``, telling a refusal (1), a failed verification (2) or an unreachable
    exchange (3) by the exit status."""
    try:
        action()
    except ExchangeError as error:
        problem = error.problem
        message = problem_message(
            title=f"{problem.get('title') or 'refused'} ({error.code}, {error.status})",
            detail=problem.get("detail"),
            errors=problem.get("errors") or (),
        )
        if problem.get("request_id"):
            message += f"\n  request {problem['request_id']}"
        raise CommandError(message) from None
    except requests.RequestException as error:
        raise ExchangeUnreachable(f"cannot reach the exchange: {error}") from None
    except VerificationError as error:
        raise NotVerified(f"NOT VERIFIED: {error}") from None


@click.group("client")
@click.option(
    "--bundle",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    envvar="EXCHANGE_BUNDLE",
    help="Client bundle directory (or EXCHANGE_BUNDLE).",
)
@click.option(
    "--url", default=None, envvar="EXCHANGE_URL", help="API base URL (default: the bundle's)."
)
@click.pass_context
def client(context: click.Context, bundle: Path | None, url: str | None) -> None:
    """Publish, read and search as an agency system, verifying everything read."""
    context.obj = {"bundle": bundle, "url": url}


@client.command("publish")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.pass_context
def publish(context: click.Context, files: tuple[Path, ...]) -> None:
    """Sign and publish envelopes (JSON files; a file may hold a list: one batch)."""

    def action() -> None:
        with _client(context) as exchange:
            for path in files:
                document = read_json(path)
                receipts = (
                    exchange.publish_batch(document)
                    if isinstance(document, list)
                    else [exchange.publish(document)]
                )
                for receipt in receipts:
                    _emit(
                        {k: v for k, v in asdict(receipt).items() if k != "token"}
                        | {"receipt": receipt.token}
                    )

    _run(action)


@client.command("get")
@click.argument("record_id")
@click.option("--purpose", type=click.Choice(PURPOSES), required=True)
@click.option("--version", type=int, default=None)
@click.option("--all-versions", is_flag=True, help="Every version, oldest first.")
@click.pass_context
def get(
    context: click.Context, record_id: str, purpose: str, version: int | None, all_versions: bool
) -> None:
    """Read a record and verify its signature and receipt."""

    def action() -> None:
        with _client(context) as exchange:
            if all_versions:
                _emit([_verified(v) for v in exchange.versions(record_id, purpose=purpose)])
            else:
                _emit(_verified(exchange.get(record_id, purpose=purpose, version=version)))

    _run(action)


@client.command("search")
@click.option("--purpose", type=click.Choice(PURPOSES), required=True)
@click.option(
    "--type", "record_type", type=click.Choice(("broker", "school", "illegal_employment"))
)
@click.option("--publisher")
@click.option("--country")
@click.option("--prefecture")
@click.option("--category")
@click.option("--status", type=click.Choice(("active", "withdrawn")))
@click.option("--from", "issued_from", help="Issued on or after (YYYY-MM-DD).")
@click.option("--to", "issued_to", help="Issued on or before (YYYY-MM-DD).")
@click.option("-q", "--query", "q", help="Free text over names and aliases.")
@click.option(
    "--card-number",
    help="A residence card number: sent only as its matching token, made here.",
)
@click.option("--limit", type=int, default=20, show_default=True, help="Results to print.")
@click.pass_context
def search(
    context: click.Context, /, purpose: str, limit: int, card_number: str | None, **filters: Any
) -> None:
    """Search, verifying every result; prints JSON lines."""
    filters["type"] = filters.pop("record_type")

    def action() -> None:
        with _client(context) as exchange:
            if card_number:
                filters["card"] = exchange.card_token(card_number)
            for count, item in enumerate(
                exchange.search(purpose=purpose, limit=min(limit, 200), **filters)
            ):
                if count >= limit:
                    break
                click.echo(json.dumps(_verified(item), ensure_ascii=False))

    _run(action)


@click.command("keygen")
@click.option("--agency", required=True, help="The agency the key will sign for.")
@click.option(
    "--alg", type=click.Choice(("Ed25519", "ES256")), default="Ed25519", show_default=True
)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
def keygen(agency: str, alg: str, out_dir: Path) -> None:
    """Make a record-signing key on the agency's side, with its proof of possession.

    Writes signing-key.jwk (private, mode 0600: it never leaves the agency), key.pub.jwk
    and key.proof, the two files `exchange key register` or POST /api/v1/keys take.
    """
    _refuse_source_folder(out_dir, agency=agency)
    key = generate_signing_key(alg)  # type: ignore[arg-type]
    out_dir.mkdir(parents=True, exist_ok=True)
    private = out_dir / "signing-key.jwk"
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(private_jwk(key), indent=2) + "\n")
    (out_dir / "key.pub.jwk").write_text(json.dumps(public_jwk(key), indent=2) + "\n")
    (out_dir / "key.proof").write_text(make_proof(key=key, agency=agency) + "\n")
    click.echo(f"key {thumbprint(public_jwk(key))} written to {out_dir}")


def _refuse_source_folder(folder: Path, *, agency: str) -> None:
    """Refuse a folder where the private key could be committed or shipped with the code."""
    target = folder.resolve()
    elsewhere = f"write it outside the source tree, for example --out ~/exchange-keys/{agency}"
    for each in (target, *target.parents):
        if (each / "__init__.py").is_file():
            raise CommandError(f"{folder} is in the Python package {each}; {elsewhere}.")
    existing = next(each for each in (target, *target.parents) if each.is_dir())
    try:
        # Exit status 0: ignored; 1: git would track it; 128: not in a working tree.
        tracked = subprocess.run(  # noqa: S603
            ["git", "-C", str(existing), "check-ignore", "-q", str(target / "signing-key.jwk")],  # noqa: S607
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        return
    if tracked.returncode == 1:
        raise CommandError(
            f"{folder} is in a git working tree, where the private key could be committed; "
            f"{elsewhere} (or into a folder git ignores)."
        )


client.add_command(keygen)


_LOG_KEY_HELP = "Trusted C2SP verifier key of the log (default: the one the bundle pins)."


@client.command("checkpoint")
@click.option("--log-key", default=None, help=_LOG_KEY_HELP)
@click.pass_context
def checkpoint(context: click.Context, log_key: str | None) -> None:
    """Fetch the log's latest checkpoint and check its signature."""

    def action() -> None:
        with _client(context) as exchange:
            note, verified = fetch_checkpoint(
                exchange, log_key=pinned_log_key(exchange, log_key=log_key)
            )
            click.echo(note.decode(), nl=False)
            click.echo(f"verified: size {verified.size}", err=True)

    _run(action)


@client.command("prove")
@click.argument("receipt")
@click.option("--log-key", default=None, help=_LOG_KEY_HELP)
@click.pass_context
def prove(context: click.Context, receipt: str, log_key: str | None) -> None:
    """Prove that the publication behind RECEIPT (a receipt JWS) is in the audit log."""

    def action() -> None:
        with _client(context) as exchange:
            proof = prove_publication(
                exchange,
                exchange.read_receipt(receipt),
                log_key=pinned_log_key(exchange, log_key=log_key),
            )
            _emit(
                {
                    "leaf_index": proof.index,
                    "checkpoint_size": proof.checkpoint.size,
                    "entry": proof.entry,
                }
            )

    _run(action)


@client.command("witness")
@click.option(
    "--state",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where the last trusted checkpoint is kept (default: in the bundle).",
)
@click.option(
    "--log-key",
    default=None,
    help="The log's verifier key (default: the one the bundle pins, else pinned on first use).",
)
@click.pass_context
def witness(context: click.Context, state: Path | None, log_key: str | None) -> None:
    """Check the latest checkpoint extends the last one trusted, and cosign it."""

    def action() -> None:
        bundle = Path(context.obj["bundle"] or ".")
        with _client(context) as exchange:
            key = exchange.signing_key
            if not isinstance(key, Ed25519PrivateKey):
                raise click.UsageError("Witnessing needs the agency's Ed25519 signing key.")
            identity = exchange.request("GET", "/api/v1/identity")
            result = Witness(
                exchange,
                state_path=state or bundle / "witness-state.json",
                name=str(identity["agency"]["id"]),
                key=key,
                log_key=log_key,
            ).run_once()
            _emit(asdict(result))

    _run(action)


@client.command("identity")
@click.pass_context
def identity(context: click.Context) -> None:
    """Who the exchange takes this bundle's certificate for."""

    def action() -> None:
        with _client(context) as exchange:
            _emit(exchange.request("GET", "/api/v1/identity"))

    _run(action)


_RECORD_TYPES = ("broker", "school", "illegal_employment")


@client.command("subscribe")
@click.option("--name", required=True, help="A name for the subscription, shown in listings.")
@click.option(
    "--type",
    "types",
    type=click.Choice(_RECORD_TYPES),
    multiple=True,
    required=True,
    help="A record type to receive (repeatable).",
)
@click.option("--publisher", multiple=True, help="Only records of this agency (repeatable).")
@click.option("--publisher-kind", multiple=True, help="Only this kind of agency (repeatable).")
@click.option("--country", multiple=True, help="ISO 3166-1 alpha-2 (repeatable).")
@click.option("--prefecture", multiple=True, help="JIS X 0401 code, 01-47 (repeatable).")
@click.option("--category", multiple=True, help="Broker category (repeatable).")
@click.option("--allegation", multiple=True, help="Broker allegation (repeatable).")
@click.option("--programme", multiple=True, help="Programme (repeatable).")
@click.option(
    "--status",
    multiple=True,
    type=click.Choice(("active", "withdrawn")),
    help="Only records in this status (repeatable).",
)
@click.option(
    "--push",
    "endpoint",
    default=None,
    metavar="URL",
    help="Have the exchange POST deliveries here over mutual TLS instead of pulling.",
)
@click.pass_context
def subscribe(
    context: click.Context,
    /,
    name: str,
    types: tuple[str, ...],
    endpoint: str | None,
    **filters: tuple[str, ...],
) -> None:
    """Subscribe to record types, narrowed by filters; a record matches when, for every
    filter given, one of its values does."""

    def action() -> None:
        with _client(context) as exchange:
            _emit(
                create_subscription(
                    exchange,
                    name=name,
                    types=types,
                    filters=filters,
                    mode="push" if endpoint else "pull",
                    endpoint=endpoint,
                )
            )

    _run(action)


@client.command("subscriptions")
@click.pass_context
def subscriptions(context: click.Context) -> None:
    """This agency's subscriptions, with their cursors and states."""

    def action() -> None:
        with _client(context) as exchange:
            _emit(list_subscriptions(exchange))

    _run(action)


@client.command("follow")
@click.argument("subscription_id", metavar="SUBSCRIPTION")
@click.option("--purpose", type=click.Choice(PURPOSES), required=True)
@click.option(
    "--cursor-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Keep the position here, to resume after a restart (default: the exchange's ack).",
)
@click.option("--once", is_flag=True, help="Read one page, acknowledge it and exit.")
@click.option(
    "--wait",
    type=click.FloatRange(0, 30),
    default=None,
    help="Long-poll seconds when nothing is new (default 20; 0 with --once).",
)
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.pass_context
def follow_feed(
    context: click.Context,
    subscription_id: str,
    purpose: str,
    cursor_file: Path | None,
    once: bool,
    wait: float | None,
    limit: int,
) -> None:
    """Follow a subscription's feed, verifying every event; prints JSON lines."""

    def action() -> None:
        with _client(context) as exchange:
            events = follow(
                exchange,
                subscription_id,
                purpose=purpose,
                cursor_file=cursor_file,
                wait=wait if wait is not None else (0.0 if once else 20.0),
                limit=limit,
                stop=(lambda: True) if once else None,
            )
            try:
                for event in events:
                    line = {
                        "event_id": event.event_id,
                        "position": event.position,
                        "kind": event.kind,
                    } | _verified(event.record)
                    click.echo(json.dumps(line, ensure_ascii=False))
            except KeyboardInterrupt:
                # The cursor moved only past pages printed whole: a restart repeats the rest.
                return
            except CursorFileError as error:
                raise click.UsageError(str(error)) from None

    _run(action)
