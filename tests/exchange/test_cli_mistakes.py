"""Mistakes at the command line are answered with one sentence and a non-zero exit status."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.cli import ScriptInfo
from flask.testing import FlaskCliRunner

from exchange.cli import main
from exchange.serving import ExchangeServer
from keys.jwk import generate_signing_key, public_jwk
from keys.pop import make_proof
from tests.exchange.test_cli import last_entry
from tests.factories import World

REPOSITORY = Path(__file__).resolve().parents[2]


def run(app: Flask, args: Sequence[str]) -> Result:
    """``exchange ARGS`` through the entry point, on the test's app."""
    return CliRunner().invoke(main, list(args), obj=ScriptInfo(create_app=lambda: app))


def assert_one_sentence(result: Result, *fragments: str) -> str:
    assert result.exit_code != 0, result.output
    # CliRunner reports an escaped exception with status 1 too: the command must have ended
    # by exiting, not by a traceback.
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


class TestFilesPeopleGive:
    def publish(self, world: World, path: Path) -> Result:
        publisher = world.agency("immigration")
        return CliRunner().invoke(
            main,
            [
                "client",
                "--url",
                world.served_at(),
                "--bundle",
                str(publisher.bundle_dir),
                "publish",
                str(path),
            ],
        )

    def test_malformed_json_is_named_with_its_line(self, world: World, tmp_path: Path) -> None:
        path = tmp_path / "record.json"
        path.write_text('{\n  "id": "x",\n}\n', encoding="utf-8")
        assert_one_sentence(self.publish(world, path), str(path), "not valid JSON", "line 3")

    def test_too_many_digits_is_a_sentence_too(self, world: World, tmp_path: Path) -> None:
        path = tmp_path / "record.json"
        path.write_text('{"version": ' + "9" * 5000 + "}", encoding="utf-8")
        assert_one_sentence(self.publish(world, path), str(path), "not usable JSON")

    def test_shift_jis_is_refused_by_name(self, world: World, tmp_path: Path) -> None:
        path = tmp_path / "record.json"
        path.write_bytes('{"name": "東京日本語学院"}'.encode("cp932"))
        assert_one_sentence(self.publish(world, path), str(path), "Shift_JIS", "UTF-8")

    def test_utf16_is_refused_by_name(self, world: World, tmp_path: Path) -> None:
        path = tmp_path / "record.json"
        path.write_text('{"name": "東京"}', encoding="utf-16")
        assert_one_sentence(self.publish(world, path), str(path), "UTF-16")

    def test_utf8_with_a_bom_is_read_as_utf8(
        self, world: World, server: ExchangeServer, tmp_path: Path
    ) -> None:
        publisher = world.agency("immigration")
        envelope = publisher.envelope("broker")
        path = tmp_path / "record.json"
        path.write_text(json.dumps(envelope, ensure_ascii=False), encoding="utf-8-sig")
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")
        result = CliRunner().invoke(
            main,
            [
                "client",
                "--url",
                world.served_at(),
                "--bundle",
                str(publisher.bundle_dir),
                "publish",
                str(path),
            ],
        )
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["record_id"] == envelope["id"]

    def test_operator_files_with_a_bom_are_read_and_bad_ones_audited(
        self, app: Flask, runner: FlaskCliRunner, world: World, tmp_path: Path
    ) -> None:
        agency = world.agency("labour").agency
        key = generate_signing_key("Ed25519")
        (tmp_path / "key.pub.jwk").write_text(json.dumps(public_jwk(key)), encoding="utf-8-sig")
        (tmp_path / "key.proof").write_text(make_proof(key=key, agency=agency), "utf-8-sig")
        registered = runner.invoke(
            args=[
                "key",
                "register",
                agency,
                "--jwk",
                str(tmp_path / "key.pub.jwk"),
                "--proof",
                str(tmp_path / "key.proof"),
            ]
        )
        assert registered.exit_code == 0, registered.output

        (tmp_path / "policy.json").write_bytes(b'{"broker": ')
        refused = run(app, ["policy", "set", str(tmp_path / "policy.json")])
        assert_one_sentence(refused, "policy.json", "not valid JSON")
        entry = last_entry(app)
        assert entry["action"] == "admin.policy.update" and entry["status"] == 400


class TestBundles:
    def test_a_folder_without_exchange_json_is_not_a_bundle(self, tmp_path: Path) -> None:
        result = CliRunner().invoke(main, ["client", "--bundle", str(tmp_path), "identity"])
        assert_one_sentence(result, str(tmp_path), "not a client bundle", "exchange.json")

    def test_a_malformed_manifest_is_named(self, tmp_path: Path) -> None:
        (tmp_path / "exchange.json").write_text('{"api_url": "https://x"}', encoding="utf-8")
        result = CliRunner().invoke(main, ["client", "--bundle", str(tmp_path), "identity"])
        assert_one_sentence(result, "exchange.json", "certificate")


class TestServe:
    def test_a_port_in_use_is_one_sentence(
        self, app: Flask, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Serving would tune this process's garbage collector; the test process keeps its own.
        monkeypatch.setattr("exchange.cli.server.settle_collector", lambda: None)
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            result = run(
                app,
                ["serve", "--host", "127.0.0.1", "--api-port", str(port), "--ui-port", "0"],
            )
        assert_one_sentence(result, f"127.0.0.1 port {port}", "another program is using it")


class TestCertificateRevocation:
    def test_openssl_fingerprints_and_a_second_revocation(
        self, app: Flask, runner: FlaskCliRunner, world: World
    ) -> None:
        fingerprint = world.agency("mofa").fingerprint
        pairs = [fingerprint[i : i + 2] for i in range(0, 64, 2)]
        as_openssl = "sha256 Fingerprint=" + ":".join(pairs).upper()
        first = runner.invoke(args=["cert", "revoke", as_openssl, "--reason", "superseded"])
        assert first.exit_code == 0, first.output
        assert first.output == f"certificate {fingerprint} revoked (superseded)\n"
        assert world.certificate(fingerprint).revoked_at is not None  # type: ignore[union-attr]

        again = runner.invoke(args=["cert", "revoke", ":".join(pairs)])
        assert again.exit_code == 0, again.output
        assert "already revoked" in again.output and "superseded" in again.output
        assert last_entry(app)["details"]["already_revoked"] is True

    def test_not_a_fingerprint(self, runner: FlaskCliRunner) -> None:
        result = runner.invoke(args=["cert", "revoke", "AB:CD"])
        assert result.exit_code == 2
        assert "64 hexadecimal digits" in result.output


class TestPasswords:
    def test_a_short_password_is_reported_once(
        self, app: Flask, runner: FlaskCliRunner, world: World
    ) -> None:
        agency = world.agency("mext").agency
        result = run(
            app,
            [
                "user",
                "add",
                "sato",
                "--agency",
                agency,
                "--name",
                "佐藤",
                "--role",
                "admin",
                "--password",
                "short",
            ],
        )
        assert_one_sentence(result, "12 characters")
        assert result.output.count("12 characters") == 1


class TestKeygenFolder:
    def keygen(self, out: Path | str) -> Result:
        return CliRunner().invoke(
            main, ["client", "keygen", "--agency", "tokyo-lb", "--out", str(out)]
        )

    def test_the_readme_example_no_longer_writes_into_the_keys_package(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(REPOSITORY)
        before = sorted(path.name for path in (REPOSITORY / "keys").iterdir())
        assert_one_sentence(self.keygen("keys/"), "Python package")
        assert sorted(path.name for path in (REPOSITORY / "keys").iterdir()) == before

    def test_a_package_below_the_folder_is_refused(self, tmp_path: Path) -> None:
        (tmp_path / "package").mkdir()
        (tmp_path / "package" / "__init__.py").write_text("")
        assert_one_sentence(self.keygen(tmp_path / "package" / "keys"), "Python package")
        assert not (tmp_path / "package" / "keys").exists()

    def test_a_git_working_tree_is_refused_unless_git_ignores_the_folder(
        self, tmp_path: Path
    ) -> None:
        subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
        assert_one_sentence(self.keygen(tmp_path / "keys"), "git working tree")
        assert not (tmp_path / "keys").exists()

        (tmp_path / ".gitignore").write_text("/keys/\n")
        assert self.keygen(tmp_path / "keys").exit_code == 0
        assert (tmp_path / "keys" / "signing-key.jwk").is_file()

    def test_a_plain_folder_is_fine(self, tmp_path: Path) -> None:
        result = self.keygen(tmp_path / "exchange-keys" / "tokyo-lb")
        assert result.exit_code == 0, result.output
