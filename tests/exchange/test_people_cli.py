"""``exchange user``: accounts of the web UI, administered at the console and audited."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskCliRunner

from exchange.auth.models import User
from exchange.auth.service import get_user
from exchange.extensions import db
from tests.exchange.test_cli import last_entry
from tests.factories import World


class TestUserCommands:
    def test_add_list_reset_unlock(self, app: Flask, runner: FlaskCliRunner, world: World) -> None:
        agency = world.agency("mofa").agency
        result = runner.invoke(
            args=[
                "user",
                "add",
                "kobayashi",
                "--agency",
                agency,
                "--name",
                "小林 恵",
                "--role",
                "liaison",
                "--role",
                "auditor",
                "--password",
                "a long enough passphrase",
            ]
        )
        assert result.exit_code == 0, result.output
        entry = last_entry(app)
        assert entry["action"] == "admin.user.create"
        assert "passphrase" not in str(entry)
        with app.app_context():
            user = get_user("kobayashi")
            assert user.roles == "liaison auditor"
            assert user.password_hash and user.password_hash.startswith("$argon2id$")

        listed = runner.invoke(args=["user", "list", "--agency", agency])
        assert "kobayashi" in listed.output and "new" in listed.output

        with app.app_context():
            user = get_user("kobayashi")
            user.totp_secret, user.failed_logins = "v1:sealed", 3
            db.session.commit()
        assert runner.invoke(args=["user", "reset-second-factor", "kobayashi"]).exit_code == 0
        assert runner.invoke(args=["user", "unlock", "kobayashi"]).exit_code == 0
        assert last_entry(app)["action"] == "admin.user.unlock"
        with app.app_context():
            reset = db.session.get(User, get_user("kobayashi").id)
            assert reset is not None
            assert reset.totp_secret is None and reset.failed_logins == 0

    def test_short_password_and_unknown_agency_are_refused(
        self, app: Flask, runner: FlaskCliRunner, world: World
    ) -> None:
        agency = world.agency("mext").agency
        short = runner.invoke(
            args=[
                "user",
                "add",
                "nakamura",
                "--agency",
                agency,
                "--name",
                "中村",
                "--role",
                "admin",
                "--password",
                "short",
            ]
        )
        assert short.exit_code == 1
        assert "12 characters" in short.output
        assert last_entry(app)["action"] == "admin.user.create"
        assert last_entry(app)["status"] >= 400
        unknown = runner.invoke(
            args=[
                "user",
                "add",
                "nakamura",
                "--agency",
                "no-such",
                "--name",
                "中村",
                "--role",
                "admin",
                "--password",
                "a long enough passphrase",
            ]
        )
        assert unknown.exit_code == 1


class TestLinkingAnIdentity:
    def test_one_identity_one_user(self, app: Flask, runner: FlaskCliRunner, world: World) -> None:
        agency = world.agency("immigration").agency
        first = world.person(agency, "liaison")
        second = world.person(agency, "liaison")
        issuer = "https://id.example.go.jp"
        linked = runner.invoke(
            args=["user", "link-oidc", first.username, "--issuer", issuer, "--subject", "s-1"]
        )
        assert linked.exit_code == 0, linked.output
        assert last_entry(app)["action"] == "admin.user.link_oidc"
        taken = runner.invoke(
            args=["user", "link-oidc", second.username, "--issuer", issuer, "--subject", "s-1"]
        )
        assert taken.exit_code == 1 and "linked" in taken.output
        plain = runner.invoke(
            args=["user", "link-oidc", second.username, "--issuer", "http://x", "--subject", "s"]
        )
        assert plain.exit_code == 1
