"""Configuration loading (TOML file + CUSTOS_* environment) and the sealing key
file checks done at start."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from custos.bootstrap import load_key
from custos.config import ConfigError, load_settings
from custos.credentials.keys import MasterKey


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CUSTOS_* variable from the developer's shell may change a result."""
    for name in list(os.environ):
        if name.startswith("CUSTOS_"):
            monkeypatch.delenv(name)


def write(tmp: Path, text: str) -> Path:
    path = tmp / "custos.toml"
    path.write_text(text)
    return path


def test_load_settings_reads_toml_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
data_dir = "{tmp_path / "data"}"
public_origin = "https://recovery.example.com/"
port = 9000
log_level = "debug"

[worker]
max_attempts = 7

[targets.directory]
kind = "builtin"
disabled_capabilities = ["sessions"]
""",
    )
    settings = load_settings(path)
    assert settings.data_dir == tmp_path / "data"
    assert settings.public_origin == "https://recovery.example.com"  # trailing / dropped
    assert settings.port == 9000
    assert settings.log_level == "debug"
    assert settings.worker.max_attempts == 7
    assert settings.targets["directory"].disabled_capabilities == ["sessions"]


def test_load_settings_env_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, 'port = 9000\nhost = "0.0.0.0"\n[worker]\nbatch = 5\n')
    monkeypatch.setenv("CUSTOS_PORT", "9100")
    monkeypatch.setenv("CUSTOS_WORKER__BATCH", "50")
    settings = load_settings(path)
    assert settings.port == 9100
    assert settings.worker.batch == 50
    assert settings.host == "0.0.0.0"  # not overridden: the file's value stays


def test_load_settings_without_file_uses_defaults(tmp_path: Path) -> None:
    settings = load_settings(None)
    assert settings.port == 8080
    assert settings.public_origin == "http://127.0.0.1:8080"
    assert settings.sealing_key is None


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("port = 0\n", "port"),
        ("port = 70000\n", "port"),
        ('public_origin = "ftp://x"\n', "public_origin"),
        ('public_origin = "https://x.example/?next=evil"\n', "public_origin"),
        ('colour = "blue"\n', "colour"),
        ("[worker]\nlease_s = 1\n", "worker.lease_s"),
        ('log_level = "chatty"\n', "log_level"),
    ],
)
def test_load_settings_bad_value_raises_config_error_naming_key(
    tmp_path: Path, text: str, key: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert caught.value.error_id == "config_invalid"
    assert f"{key}:" in str(caught.value)
    assert str(path) in str(caught.value)


def test_load_settings_bad_env_value_raises_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUSTOS_PUBLIC_ORIGIN", "ftp://x")
    with pytest.raises(ConfigError, match="public_origin"):
        load_settings(None)


def test_load_settings_missing_file_raises_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as caught:
        load_settings(missing)
    assert caught.value.error_id == "config_invalid"
    assert str(missing) in str(caught.value)


def test_load_settings_toml_syntax_error_raises_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, "port = = 3\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert caught.value.error_id == "config_invalid"


def test_effective_database_url_defaults_to_sqlite_in_data_dir(tmp_path: Path) -> None:
    settings = load_settings(None, data_dir=tmp_path)
    assert settings.effective_database_url == f"sqlite:///{(tmp_path / 'custos.db').resolve()}"
    assert settings.effective_key_file == tmp_path / "sealing.key"
    assert settings.effective_outbox == tmp_path / "outbox"


def test_effective_database_url_configured_url_wins(tmp_path: Path) -> None:
    url = "postgresql+psycopg://custos@db.example/custos"
    settings = load_settings(None, data_dir=tmp_path, database_url=url)
    assert settings.effective_database_url == url


# -- the sealing key ------------------------------------------------------------


def test_load_key_file_readable_by_others_raises_config_error(tmp_path: Path) -> None:
    path = tmp_path / "sealing.key"
    path.write_text(MasterKey.generate().to_b64() + "\n")
    path.chmod(0o644)
    settings = load_settings(None, data_dir=tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_key(settings)
    assert caught.value.error_id == "config_invalid"
    assert "chmod 600" in str(caught.value)


def test_load_key_private_file_is_read(tmp_path: Path) -> None:
    key = MasterKey.generate()
    path = tmp_path / "sealing.key"
    path.write_text(key.to_b64() + "\n")
    path.chmod(0o600)
    loaded = load_key(load_settings(None, data_dir=tmp_path))
    assert loaded.current().primary.to_b64() == key.to_b64()


def test_load_key_create_writes_private_file(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    settings = load_settings(None, data_dir=data)
    created = load_key(settings, create=True)
    path = data / "sealing.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == created.current().primary.to_b64()
    # The next start reads the same key instead of making another.
    again = load_key(settings, create=True).current().primary
    assert again.to_b64() == created.current().primary.to_b64()


def test_load_key_missing_without_create_raises_config_error(tmp_path: Path) -> None:
    settings = load_settings(None, data_dir=tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_key(settings)
    assert caught.value.error_id == "config_invalid"
    assert "custos keys generate" in str(caught.value)
    assert not (tmp_path / "sealing.key").exists()


def test_load_key_env_key_wins_over_file(tmp_path: Path) -> None:
    key = MasterKey.generate()
    settings = load_settings(None, data_dir=tmp_path, sealing_key=key.to_b64())
    assert load_key(settings).current().primary.to_b64() == key.to_b64()
    assert not (tmp_path / "sealing.key").exists()


def test_trusted_proxies_default_to_none(tmp_path: Path) -> None:
    """R-20: without configuration no proxy is trusted, 127.0.0.1 included."""
    assert load_settings(None, data_dir=tmp_path).trusted_proxies == []


def test_trusted_proxies_read_addresses_and_networks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, 'trusted_proxies = ["10.0.0.0/8", "192.0.2.10", "fd00::/8"]\n')
    found = [str(n) for n in load_settings(path).trusted_proxies]
    assert found == ["10.0.0.0/8", "192.0.2.10/32", "fd00::/8"]
    monkeypatch.setenv("CUSTOS_TRUSTED_PROXIES", '["127.0.0.1"]')
    assert [str(n) for n in load_settings(path).trusted_proxies] == ["127.0.0.1/32"]


@pytest.mark.parametrize("bad", ["localhost", "10.0.0.1/8", "*"])
def test_trusted_proxies_refuse_what_is_not_a_network(tmp_path: Path, bad: str) -> None:
    path = write(tmp_path, f'trusted_proxies = ["{bad}"]\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert "trusted_proxies" in caught.value.message
