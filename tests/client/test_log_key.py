"""The client trusts the audit log's key its bundle pins, not the one the exchange sends.

The session's exchange keeps its key; "a server whose log key differs from the pin" is a
copy of a bundle whose ``exchange.json`` pins another key, as it would after the exchange
(or someone in the middle) started signing with a key of its own.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask

from audit.note import NoteSigner
from exchange.cli import main
from exchange.client.auditlog import Witness
from exchange.client.sdk import ExchangeClient, VerificationError
from exchange.extensions import db
from exchange.serving import ExchangeServer
from exchange.trail.integrator_process import build_integrator, log_origin
from tests.factories import AgencySystem, World


@pytest.fixture(scope="module")
def publisher(world: World, server: ExchangeServer) -> AgencySystem:
    return world.agency("immigration")


@pytest.fixture(scope="module")
def served_key(publisher: AgencySystem) -> str:
    with publisher.client() as exchange:
        return str(exchange.request("GET", "/api/v1/audit/key")).strip()


def integrate(app: Flask) -> None:
    with app.app_context():
        build_integrator(app).integrate(checkpoint=True)
        db.session.remove()


def repinned(system: AgencySystem, directory: Path, log_key: str | None) -> Path:
    """A copy of the system's bundle pinning ``log_key`` (none at all for ``None``)."""
    shutil.copytree(system.bundle_dir, directory)
    manifest = json.loads((directory / "exchange.json").read_text())
    if log_key is None:
        del manifest["log_key"]
    else:
        manifest["log_key"] = log_key
    (directory / "exchange.json").write_text(json.dumps(manifest))
    return directory


def other_key(app: Flask) -> str:
    # Same origin, another key: what a forked or impersonated log would sign with.
    return NoteSigner.generate(log_origin(app)).verifier_key()


def client_command(world: World, bundle: Path, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["client", "--url", world.served_at(), "--bundle", str(bundle), *args]
    )


class TestBundles:
    def test_a_bundle_pins_the_log_key(
        self, app: Flask, publisher: AgencySystem, served_key: str
    ) -> None:
        manifest = json.loads((publisher.bundle_dir / "exchange.json").read_text())
        assert manifest["log_key"] == served_key
        with ExchangeClient.from_bundle(publisher.bundle_dir) as exchange:
            assert exchange.log_key == served_key


class TestPinnedKey:
    def test_checkpoint_and_prove_use_the_pinned_key(
        self, app: Flask, world: World, publisher: AgencySystem
    ) -> None:
        with publisher.client() as exchange:
            receipt = exchange.publish(publisher.envelope())
        integrate(app)
        result = client_command(world, publisher.bundle_dir, "checkpoint")
        assert result.exit_code == 0, result.output
        assert "verified: size" in result.output
        result = client_command(world, publisher.bundle_dir, "prove", receipt.token)
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["entry"]["id"] == receipt.audit_entry

    def test_a_server_whose_log_key_differs_from_the_pin_is_refused(
        self, app: Flask, world: World, publisher: AgencySystem, tmp_path: Path, served_key: str
    ) -> None:
        with publisher.client() as exchange:
            receipt = exchange.publish(publisher.envelope())
        integrate(app)
        pinned = other_key(app)
        bundle = repinned(publisher, tmp_path / "bundle", pinned)
        for args in (["checkpoint"], ["prove", receipt.token]):
            result = client_command(world, bundle, *args)
            assert result.exit_code == 2, result.output
            assert "NOT VERIFIED" in result.output
            assert f"not the pinned key {pinned}" in result.output
        # A key given on the command line is the operator's own choice of trust.
        result = client_command(world, bundle, "checkpoint", "--log-key", served_key)
        assert result.exit_code == 0, result.output

    def test_a_bundle_that_pins_no_key_is_refused(
        self, app: Flask, world: World, publisher: AgencySystem, tmp_path: Path
    ) -> None:
        integrate(app)
        bundle = repinned(publisher, tmp_path / "bundle", None)
        result = client_command(world, bundle, "checkpoint")
        assert result.exit_code == 2, result.output
        assert "no log key is pinned" in result.output

    def test_the_witness_uses_the_pinned_key(
        self, app: Flask, world: World, tmp_path: Path
    ) -> None:
        witness_agency = world.agency("mofa")
        integrate(app)
        bundle = repinned(witness_agency, tmp_path / "bundle", other_key(app))
        with ExchangeClient.from_bundle(bundle, base_url=world.served_at()) as exchange:
            witness = Witness(
                exchange,
                state_path=tmp_path / "state.json",
                name=witness_agency.agency,
                key=exchange.signing_key,  # type: ignore[arg-type]
            )
            with pytest.raises(VerificationError, match="does not verify"):
                witness.run_once()
        assert not (tmp_path / "state.json").exists()
