"""Settings: every one the README names works from the environment and from config.py."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from exchange import create_app
from exchange.cli import main
from exchange.config import DEFAULTS, SETTINGS, ConfigurationError

README = Path(__file__).resolve().parents[2] / "README.md"

# Named in the README, but not the server's settings: the client's bundle is an option of
# `exchange client`, and the test suite's database is the suite's own.
NOT_SERVER_SETTINGS = {"EXCHANGE_BUNDLE", "EXCHANGE_TEST_DATABASE_URL"}

# For each setting: as the environment gives it, and what the configuration must then hold.
SAMPLES: dict[str, tuple[str, Any]] = {
    "EXCHANGE_DATABASE_URL": (
        "sqlite:////srv/exchange/other.db",
        "sqlite:////srv/exchange/other.db",
    ),
    "EXCHANGE_KEY_PASSPHRASE": ("another passphrase", "another passphrase"),
    "EXCHANGE_NAME": ("exchange.test.go.jp", "exchange.test.go.jp"),
    "EXCHANGE_PDF_FONT": (
        "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
        "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
    ),
    "EXCHANGE_API_HOST": ("0.0.0.0", "0.0.0.0"),
    "EXCHANGE_API_PORT": ("9443", 9443),
    "EXCHANGE_UI_PORT": ("9444", 9444),
    "EXCHANGE_PUBLIC_URL": (
        "https://exchange.test.go.jp:8443/",
        "https://exchange.test.go.jp:8443",
    ),
    "EXCHANGE_ROTATION_OVERLAP_DAYS": ("14", 14.0),
    "EXCHANGE_SERVER_THREADS": ("4", 4),
    "EXCHANGE_WAITING_PULLS": ("3", 3),
    "EXCHANGE_MAX_BODY_BYTES": ("2048", 2048),
    "EXCHANGE_MAX_BATCH": ("50", 50),
    "EXCHANGE_RECORD_EXPORT_MAX": ("100", 100),
    "EXCHANGE_IMPORT_UPLOAD_MAX": ("4096", 4096),
    "EXCHANGE_INTEGRATOR": ("off", "off"),
    "EXCHANGE_CHECKPOINT_INTERVAL": ("2.5", 2.5),
    "EXCHANGE_LOG_ORIGIN": ("exchange.test.go.jp/log", "exchange.test.go.jp/log"),
    "EXCHANGE_PUSH": ("off", "off"),
    "EXCHANGE_RETENTION": ("off", "off"),
    "EXCHANGE_RETENTION_INTERVAL": ("600", 600.0),
    "EXCHANGE_RETENTION_BATCH": ("50", 50),
    "EXCHANGE_PUSH_CA_FILE": ("/etc/exchange/push-ca.pem", "/etc/exchange/push-ca.pem"),
    "EXCHANGE_PUSH_LINGER": ("0.5", 0.5),
    "EXCHANGE_PUSH_MAX_ATTEMPTS": ("3", 3),
    "EXCHANGE_PUSH_MAX_AGE": ("120", 120.0),
    "EXCHANGE_UI_IDLE_MINUTES": ("5", 5),
    "EXCHANGE_UI_SESSION_HOURS": ("2", 2),
    "EXCHANGE_OPS_HOST": ("0.0.0.0", "0.0.0.0"),
    "EXCHANGE_OPS_PORT": ("9465", 9465),
    "EXCHANGE_OPS_TLS": ("yes", True),
    "EXCHANGE_READY_MAX_INTEGRATOR_LAG": ("500", 500),
    "EXCHANGE_READY_MAX_CHECKPOINT_AGE": ("30", 30.0),
    "EXCHANGE_LOG_LEVEL": ("DEBUG", "DEBUG"),
    "EXCHANGE_LOG_JSON": ("off", False),
    "EXCHANGE_OIDC_PROVIDERS": ('{"isa": {"label": "ID"}}', {"isa": {"label": "ID"}}),
}


def readme_settings() -> set[str]:
    return set(re.findall(r"\bEXCHANGE_[A-Z0-9_]+\b", README.read_text(encoding="utf-8")))


@pytest.fixture()
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No setting from the developer's environment; the instance folder in ``tmp_path``."""
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EXCHANGE_INSTANCE_PATH", str(tmp_path))
    return monkeypatch


def configured_app() -> Flask:
    # As `exchange` builds it: instance/config.py, then the environment.
    return create_app()


def test_every_setting_the_readme_names_is_sampled_here() -> None:
    named = readme_settings() - NOT_SERVER_SETTINGS - {"EXCHANGE_INSTANCE_PATH"}
    assert named, "the README names no settings"
    assert named <= set(SAMPLES), f"no sample for {sorted(named - set(SAMPLES))}"
    assert set(SAMPLES) <= set(SETTINGS)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_setting_is_honoured_from_the_environment(
    environment: pytest.MonkeyPatch, name: str
) -> None:
    given, expected = SAMPLES[name]
    environment.setenv(name, given)
    assert DEFAULTS.get(name) != expected
    assert configured_app().config[name] == expected


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_setting_is_honoured_from_config_py(
    environment: pytest.MonkeyPatch, tmp_path: Path, name: str
) -> None:
    expected = SAMPLES[name][1]
    (tmp_path / "config.py").write_text(f"{name} = {expected!r}\n", encoding="utf-8")
    assert configured_app().config[name] == expected


def test_instance_path_comes_from_the_environment(environment: pytest.MonkeyPatch) -> None:
    assert "EXCHANGE_INSTANCE_PATH" in readme_settings()
    app = configured_app()
    assert Path(app.instance_path) == Path(str(app.config["EXCHANGE_KEYS_DIR"])).parent


def test_the_body_limit_and_database_follow_their_settings(
    environment: pytest.MonkeyPatch,
) -> None:
    environment.setenv("EXCHANGE_MAX_BODY_BYTES", "2048")
    environment.setenv("EXCHANGE_DATABASE_URL", "postgresql://exchange@db.example/exchange")
    app = configured_app()
    assert app.config["MAX_CONTENT_LENGTH"] == 2048
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")


@pytest.mark.parametrize(
    ("name", "given"),
    [
        ("EXCHANGE_PUSH_MAX_ATTEMPTS", "eight"),
        ("EXCHANGE_PUSH_MAX_ATTEMPTS", "0"),
        ("EXCHANGE_PUSH_MAX_AGE", "1h"),
        ("EXCHANGE_API_PORT", "70000"),
        ("EXCHANGE_PUSH", "sometimes"),
        ("EXCHANGE_OIDC_PROVIDERS", '{"client_secret": "s3cret"'),
        ("EXCHANGE_PUBLIC_URL", "http://exchange.test.go.jp"),
        ("EXCHANGE_PUBLIC_URL", "https://exchange.test.go.jp/api"),
        ("EXCHANGE_ROTATION_OVERLAP_DAYS", "-1"),
    ],
)
def test_a_malformed_value_is_named_in_one_sentence(
    environment: pytest.MonkeyPatch, name: str, given: str
) -> None:
    environment.setenv(name, given)
    with pytest.raises(ConfigurationError) as raised:
        configured_app()
    message = str(raised.value)
    assert message.startswith(name) and "from the environment" in message
    assert "s3cret" not in message

    result = CliRunner().invoke(main, ["agency", "list"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [f"error: {message}"]


def test_a_malformed_value_in_config_py_is_refused(
    environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "config.py").write_text('EXCHANGE_PUSH_MAX_ATTEMPTS = "eight"\n')
    with pytest.raises(ConfigurationError, match=r"EXCHANGE_PUSH_MAX_ATTEMPTS .* configuration"):
        configured_app()
