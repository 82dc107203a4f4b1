"""The configured key store: ``sealing_key_store`` is ``auto`` (the environment
when ``sealing_key`` is set, else the file), ``file``, ``env``, or a plug-in
``package.module:factory``: a callable taking the Settings and returning a
:class:`~custos.keystore.base.KeyStore` (docs/operations.md, "Key stores")."""

from __future__ import annotations

import importlib

from custos.config import Settings
from custos.keystore.base import KeyStore, KeyStoreError
from custos.keystore.env_store import EnvKeyStore
from custos.keystore.file_store import FileKeyStore


def key_store(settings: Settings) -> KeyStore:
    """The store ``settings`` name. Raises KeyStoreError for ``env`` without a
    key, or a plug-in that cannot be imported or does not return a KeyStore."""
    choice = settings.sealing_key_store
    if choice == "auto":
        choice = "env" if settings.sealing_key is not None else "file"
    if choice == "file":
        return FileKeyStore(settings.effective_key_file)
    if choice == "env":
        if settings.sealing_key is None:
            raise KeyStoreError("sealing_key_store is 'env' but CUSTOS_SEALING_KEY is not set")
        return EnvKeyStore(settings.sealing_key.get_secret_value())
    return _plugin(choice, settings)


def _plugin(spec: str, settings: Settings) -> KeyStore:
    module_name, _, attribute = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise KeyStoreError(f"sealing_key_store '{spec}' cannot be loaded: {exc}") from exc
    store = factory(settings)
    if not isinstance(store, KeyStore):
        raise KeyStoreError(
            f"sealing_key_store '{spec}' returned {type(store).__name__}, which is not a "
            "KeyStore (description, load, version, save, keep_retired)"
        )
    return store
