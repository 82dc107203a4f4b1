"""Key stores: the file store writes atomically and keeps retired rings, the
environment store is read-only, a plug-in named by ``sealing_key_store`` is
used like the built-in ones, and a running process follows its store."""

from __future__ import annotations

import base64
import os
import secrets
import stat
from pathlib import Path

import pytest
from kms_key_store import KEK_ENV, KmsWrappedStore

from custos.config import ConfigError, load_settings
from custos.credentials.keys import MasterKey
from custos.credentials.sealed import Sealer
from custos.credentials.sealing_keys import SealingKeys
from custos.keystore.base import KeyStore, KeyStoreReadOnly
from custos.keystore.env_store import EnvKeyStore
from custos.keystore.file_store import FileKeyStore, generate_key_file
from custos.keystore.live import LiveKeys
from custos.keystore.selection import key_store


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_file_store_saves_atomically_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "sealing.key"
    first = generate_key_file(path)
    store = FileKeyStore(path)
    assert store.load().primary.key_id == first.key_id
    rotated = store.load().rotated_to(MasterKey.generate())
    store.save(rotated)
    assert store.load().key_ids == rotated.key_ids
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["sealing.key"]


def test_file_store_keeps_a_retired_ring_beside_the_file_and_never_overwrites(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sealing.key"
    generate_key_file(path)
    store = FileKeyStore(path)
    old = store.load()
    kept = store.keep_retired(old)
    assert kept == str(path.with_name(f"sealing.key.retired-{old.primary.key_id}"))
    assert stat.S_IMODE(Path(kept).stat().st_mode) == 0o600
    assert FileKeyStore(Path(kept)).load().key_ids == old.key_ids
    assert store.keep_retired(old) == kept  # the same ring again: the same place
    Path(kept).write_text(MasterKey.generate().to_b64())
    with pytest.raises(ConfigError, match="holds another ring"):
        store.keep_retired(old)


def test_env_store_is_read_only(tmp_path: Path) -> None:
    key = MasterKey.generate()
    store = EnvKeyStore(key.to_b64())
    assert store.load().primary.key_id == key.key_id
    with pytest.raises(KeyStoreReadOnly) as caught:
        store.save(store.load().rotated_to(MasterKey.generate()))
    assert caught.value.error_id == "key_store_read_only"
    assert "sealing_key_file" in caught.value.message
    with pytest.raises(KeyStoreReadOnly):
        store.keep_retired(store.load())


def test_selection_follows_the_configuration(tmp_path: Path) -> None:
    key = MasterKey.generate().to_b64()
    assert isinstance(key_store(load_settings(None, data_dir=tmp_path)), FileKeyStore)
    assert isinstance(
        key_store(load_settings(None, data_dir=tmp_path, sealing_key=key)), EnvKeyStore
    )
    forced = load_settings(None, data_dir=tmp_path, sealing_key=key, sealing_key_store="file")
    assert isinstance(key_store(forced), FileKeyStore)
    with pytest.raises(ConfigError, match="CUSTOS_SEALING_KEY is not set"):
        key_store(load_settings(None, data_dir=tmp_path, sealing_key_store="env"))


def test_a_kms_plugin_is_selected_by_configuration_and_seals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEK_ENV, base64.b64encode(secrets.token_bytes(32)).decode())
    settings = load_settings(None, data_dir=tmp_path, sealing_key_store="kms_key_store:store")
    store = key_store(settings)
    assert isinstance(store, KmsWrappedStore) and isinstance(store, KeyStore)
    store.save(SealingKeys(primary=MasterKey.generate()))
    wrapped = store.path.read_text()
    assert store.load().primary.to_b64() not in base64.b64decode(wrapped).decode("latin-1")
    sealer = Sealer(LiveKeys(store))
    assert sealer.unseal(sealer.seal("x", aad="case-1"), aad="case-1") == "x"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("kms_key_store:missing", "cannot be loaded"),
        ("no_such_module_here:store", "cannot be loaded"),
        ("kms_key_store:not_a_store", "is not a KeyStore"),
    ],
)
def test_a_broken_plugin_stops_with_a_config_error(tmp_path: Path, spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        key_store(load_settings(None, data_dir=tmp_path, sealing_key_store=spec))


def test_a_malformed_store_setting_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sealing_key_store"):
        load_settings(None, data_dir=tmp_path, sealing_key_store="rm -rf /")


def test_live_keys_follow_the_store_within_the_recheck_interval(tmp_path: Path) -> None:
    path = tmp_path / "sealing.key"
    generate_key_file(path)
    store, ticks = FileKeyStore(path), Ticks()
    live = LiveKeys(store, recheck_s=1.0, monotonic=ticks)
    before = live.current()
    rotated = before.rotated_to(MasterKey.generate())
    store.save(rotated)
    os.utime(path, ns=(1, 1))  # a different stamp even on a coarse clock
    assert live.current() is before  # not asked again within the interval
    ticks.now = 1.5
    assert live.current().key_ids == rotated.key_ids


def test_live_keys_keep_their_ring_when_the_store_turns_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "sealing.key"
    generate_key_file(path)
    ticks = Ticks()
    live = LiveKeys(FileKeyStore(path), monotonic=ticks)
    before = live.current()
    path.write_text("garbage")
    ticks.now = 5
    assert live.current() is before
