"""Wires configuration, store, policy, keys, connectors, notifier and clock into
one :class:`Services` value (declared in ``custos.service.ports``). Only the
faces (API, CLI, worker command) import this module."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine

from custos.clock import Clock, SystemClock
from custos.config import ConfigError, Settings
from custos.connectors.registry import ConnectorRegistry
from custos.credentials.keys import MasterKey
from custos.ledger.signing import KeyRing
from custos.notify.base import Notifier
from custos.notify.email import SmtpNotifier
from custos.notify.outbox import OutboxNotifier
from custos.policy.loader import DEFAULT_POLICY_PATH, load_policy, require_runnable_checks
from custos.service.ports import Services
from custos.signals.keys import SsfKeyRing
from custos.store.database import make_engine, upgrade


def write_key_file(path: Path) -> MasterKey:
    """Generate a master key into ``path`` with mode 0600 (refuses to overwrite)."""
    key = MasterKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key.to_b64() + "\n")
    return key


def load_key(settings: Settings, *, create: bool = False) -> MasterKey:
    """The master key from ``sealing_key`` or ``sealing_key_file``; with ``create``,
    a missing key file is generated (the demo). Raises ConfigError."""
    if settings.sealing_key is not None:
        return MasterKey.from_b64(settings.sealing_key.get_secret_value())
    path = settings.effective_key_file
    if not path.exists():
        if create:
            return write_key_file(path)
        raise ConfigError(
            f"no sealing key: set CUSTOS_SEALING_KEY or create {path} with 'custos keys generate'"
        )
    if path.stat().st_mode & 0o077:
        raise ConfigError(f"sealing key file {path} must not be readable by others (chmod 600)")
    return MasterKey.from_b64(path.read_text(encoding="ascii").strip())


def bootstrap(
    settings: Settings,
    *,
    clock: Clock | None = None,
    notifier: Notifier | None = None,
    migrate: bool = False,
    create_key: bool = False,
    engine: Engine | None = None,
) -> Services:
    engine = engine or make_engine(settings.effective_database_url)
    if migrate:
        upgrade(engine)
    policy = load_policy(settings.policy_file or DEFAULT_POLICY_PATH)
    try:
        registry = ConnectorRegistry.from_config(settings.targets, engine)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    # A tier requiring a check no configured target can run would never complete
    # a case honestly: refuse to start rather than find out per case.
    require_runnable_checks(policy, registry.capability_map())
    if create_key:  # the demo: first ledger and SET signing keys, like the sealing key
        now = (clock or SystemClock()).now()
        KeyRing(settings.effective_ledger_keys_dir).ensure(now)
        SsfKeyRing(settings.effective_ssf_keys_dir).ensure(settings.ssf.algorithm, now)
    return Services(
        settings=settings,
        engine=engine,
        policy=policy,
        key=load_key(settings, create=create_key),
        notifier=notifier
        or (
            SmtpNotifier.from_config(settings.smtp)
            if settings.smtp is not None
            else OutboxNotifier(settings.effective_outbox)
        ),
        clock=clock or SystemClock(),
        registry=registry,
    )
