"""``exchange agency|system|cert|key|policy``: administration at the server's console."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from exchange.agencies import service as agencies
from exchange.agencies.models import AGENCY_KINDS
from exchange.agencies.policy import PURPOSES, current_policy, set_policy
from exchange.cli.operator import operator_action
from exchange.pki import service as pki
from exchange.pki.bundles import default_api_url, log_verifier_key, write_bundle
from exchange.pki.custodial import create_custodial_key
from exchange.pki.vault import load_vault
from exchange.referrals.policy import current_referral_policy, set_referral_policy
from exchange.textfiles import read_json, read_text
from keys.certificates import parse_fingerprint


@click.group("agency")
def agency() -> None:
    """Agencies: police, immigration, labour, otit, mext, mofa."""


@agency.command("add")
@click.argument("agency_id")
@click.option("--kind", type=click.Choice(AGENCY_KINDS), required=True)
@click.option("--name-ja", required=True)
@click.option("--name-en", required=True)
@click.option("--parent", default=None, help="Parent agency, e.g. the ministry of a bureau.")
@with_appcontext
def agency_add(agency_id: str, kind: str, name_ja: str, name_en: str, parent: str | None) -> None:
    """Add an agency."""
    with operator_action("admin.agency.create", agency=agency_id) as action:
        agencies.create_agency(
            actor=action.actor,
            agency_id=agency_id,
            kind=kind,
            name_ja=name_ja,
            name_en=name_en,
            parent_id=parent,
        )
    click.echo(f"agency {agency_id} ({kind}) added")


@agency.command("list")
@with_appcontext
def agency_list() -> None:
    """List agencies."""
    with operator_action("admin.agency.list"):
        for item in agencies.list_agencies():
            parent = f" under {item.parent_id}" if item.parent_id else ""
            click.echo(f"{item.id:<12} {item.kind:<12} {item.name_ja} / {item.name_en}{parent}")


@agency.command("custodial-key")
@click.argument("agency_id")
@with_appcontext
def agency_custodial_key(agency_id: str) -> None:
    """Create a signing key the exchange holds for AGENCY, for its liaison officers' web
    imports; it replaces the agency's earlier custodial key, which stays valid for what it
    signed."""
    with operator_action("admin.key.custodial", agency=agency_id) as action:
        created = create_custodial_key(actor=action.actor, agency_id=agency_id)
        action.details["kid"] = created.kid
    click.echo(f"custodial key {created.kid} of {agency_id} created")


@click.group("system")
def system() -> None:
    """Agency systems and their client certificates."""


@system.command("add")
@click.argument("agency_id")
@click.argument("name")
@click.option("--role", "roles", multiple=True, type=click.Choice(agencies.SYSTEM_ROLES))
@with_appcontext
def system_add(agency_id: str, name: str, roles: tuple[str, ...]) -> None:
    """Add a system to an agency."""
    with operator_action("admin.system.create", agency=agency_id, system=name) as action:
        agencies.create_system(actor=action.actor, agency_id=agency_id, name=name, roles=roles)
    click.echo(f"system {agency_id}/{name} added")


@system.command("issue")
@click.argument("agency_id")
@click.argument("name")
@click.option(
    "--csr",
    "csr_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Certificate signing request from the agency (its key never leaves it).",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(path_type=Path),
    required=True,
    help="Certificate file (with --csr) or bundle directory (without).",
)
@click.option("--days", type=int, default=397, show_default=True)
@with_appcontext
def system_issue(
    agency_id: str, name: str, csr_path: Path | None, out_path: Path, days: int
) -> None:
    """Issue a client certificate from a CSR, or a whole client bundle."""
    with operator_action("admin.certificate.issue", agency=agency_id, system=name) as action:
        target = agencies.get_system(agency_id, name)
        if csr_path is not None:
            certificate = pki.issue_certificate_from_csr(
                actor=action.actor, system=target, csr_pem=csr_path.read_bytes(), valid_days=days
            )
            out_path.write_text(certificate.pem)
        else:
            certificate, bundle = pki.issue_certificate_bundle(
                actor=action.actor, system=target, valid_days=days
            )
            write_bundle(
                out_path,
                bundle=bundle,
                api_url=default_api_url(),
                log_key=log_verifier_key(),
                matching_key=load_vault().matching_key,
            )
        action.details["fingerprint"] = certificate.fingerprint
    click.echo(f"certificate {certificate.fingerprint} written to {out_path}")


@system.command("list")
@click.option("--agency", "agency_id", default=None)
@with_appcontext
def system_list(agency_id: str | None) -> None:
    """List systems."""
    with operator_action("admin.system.list"):
        for item in agencies.list_systems(agency_id):
            roles = f" [{item.roles}]" if item.roles else ""
            purpose = f" purpose={item.standing_purpose}" if item.standing_purpose else ""
            click.echo(f"{item.agency_id}/{item.name}{roles}{purpose}")


@system.command("purpose")
@click.argument("agency_id")
@click.argument("name")
@click.argument("purpose", type=click.Choice([*PURPOSES, "none"]))
@with_appcontext
def system_purpose(agency_id: str, name: str, purpose: str) -> None:
    """Set the standing purpose of a system's reads that state none (TAXII clients).

    `none` removes it: the system's reads must then state their purpose."""
    with operator_action(
        "admin.system.purpose", agency=agency_id, system=name, purpose=purpose
    ) as action:
        agencies.set_standing_purpose(
            actor=action.actor,
            system=agencies.get_system(agency_id, name),
            purpose=None if purpose == "none" else purpose,
        )
    click.echo(f"system {agency_id}/{name}: standing purpose {purpose}")


@click.group("cert")
def cert() -> None:
    """Client certificates."""


def _fingerprint(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return parse_fingerprint(value)
    except ValueError as error:
        raise click.BadParameter(f"{value!r}: {error}", ctx, param) from None


@cert.command("revoke")
@click.argument("fingerprint", callback=_fingerprint)
@click.option("--reason", type=click.Choice(pki.REVOCATION_REASONS), default="unspecified")
@with_appcontext
def cert_revoke(fingerprint: str, reason: str) -> None:
    """Revoke a client certificate: the system is refused from the next request on.

    FINGERPRINT is its SHA-256, as `exchange system issue` or `openssl x509 -fingerprint
    -sha256` prints it."""
    with operator_action(
        "admin.certificate.revoke", fingerprint=fingerprint, reason=reason
    ) as action:
        earlier = pki.find_certificate(fingerprint).revoked_at
        if earlier is not None:
            action.details["already_revoked"] = True
        certificate = pki.revoke_certificate(
            actor=action.actor, fingerprint=fingerprint, reason=reason
        )
    if earlier is not None:
        click.echo(
            f"certificate {fingerprint} was already revoked on {earlier.isoformat()} "
            f"({certificate.revocation_reason}); nothing changed"
        )
    else:
        click.echo(f"certificate {fingerprint} revoked ({reason})")


@click.group("key")
def key() -> None:
    """Agencies' record-signing keys."""


@key.command("register")
@click.argument("agency_id")
@click.option(
    "--jwk", "jwk_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True
)
@click.option(
    "--proof",
    "proof_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Compact JWS made with the private key (see `exchange client keygen`).",
)
@with_appcontext
def key_register(agency_id: str, jwk_path: Path, proof_path: Path) -> None:
    """Register a public signing key, with its proof of possession."""
    with operator_action("admin.key.register", agency=agency_id) as action:
        registered = pki.register_signing_key(
            actor=action.actor,
            agency_id=agency_id,
            jwk=read_json(jwk_path),
            proof=read_text(proof_path).strip(),
        )
        action.details["kid"] = registered.kid
    click.echo(f"key {registered.kid} registered for {agency_id}")


@key.command("retire")
@click.argument("kid")
@with_appcontext
def key_retire(kid: str) -> None:
    """Retire a key: it stays valid for what it signed before."""
    with operator_action("admin.key.retire", kid=kid) as action:
        pki.retire_signing_key(actor=action.actor, kid=kid)
    click.echo(f"key {kid} retired")


@key.command("revoke")
@click.argument("kid")
@click.option(
    "--compromised-at",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S"]),
    required=True,
    help="From when the key is not to be trusted (UTC if no offset).",
)
@with_appcontext
def key_revoke(kid: str, compromised_at: datetime) -> None:
    """Revoke a key; versions signed or received after the compromise are flagged."""
    moment = compromised_at if compromised_at.tzinfo else compromised_at.replace(tzinfo=UTC)
    with operator_action("admin.key.revoke", kid=kid, compromised_at=moment.isoformat()) as action:
        pki.revoke_signing_key(actor=action.actor, kid=kid, compromised_at=moment)
    click.echo(f"key {kid} revoked, compromised from {moment.isoformat()}")


@key.command("list")
@click.argument("agency_id")
@with_appcontext
def key_list(agency_id: str) -> None:
    """List an agency's keys with their status."""
    with operator_action("admin.key.list", agency=agency_id):
        for item in pki.agency_keys(agency_id):
            click.echo(json.dumps(pki.key_document(item), ensure_ascii=False))


@click.group("policy")
def policy() -> None:
    """The sharing policy (versioned; every change audited)."""


@policy.command("show")
@with_appcontext
def policy_show() -> None:
    """Print the policy in force."""
    with operator_action("admin.policy.read"):
        current = current_policy()
        click.echo(json.dumps({"version": current.version, "rules": current.rules}, indent=2))


@policy.command("set")
@click.argument("rules_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--note", default="", help="Why the policy changes.")
@with_appcontext
def policy_set(rules_path: Path, note: str) -> None:
    """Store a new policy version from a JSON file of rules."""
    with operator_action("admin.policy.update", note=note) as action:
        updated = set_policy(actor=action.actor, rules=read_json(rules_path), note=note)
        action.details["version"] = updated.version
    click.echo(f"policy version {updated.version} in force")
    current_app.logger.info("policy version %s set", updated.version)


@policy.command("referrals")
@with_appcontext
def referral_policy_show() -> None:
    """Print the referral rules in force: who may refer what to whom."""
    with operator_action("admin.referral_policy.read"):
        current = current_referral_policy()
        click.echo(json.dumps({"version": current.version, "rules": current.rules}, indent=2))


@policy.command("set-referrals")
@click.argument("rules_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--note", default="", help="Why the rules change.")
@with_appcontext
def referral_policy_set(rules_path: Path, note: str) -> None:
    """Store a new version of the referral rules from a JSON file:
    {kind: {sender agency kind: [receiver agency kinds]}}."""
    with operator_action("admin.referral_policy.update", note=note) as action:
        updated = set_referral_policy(actor=action.actor, rules=read_json(rules_path), note=note)
        action.details["version"] = updated.version
    click.echo(f"referral policy version {updated.version} in force")


COMMANDS = (agency, system, cert, key, policy)
