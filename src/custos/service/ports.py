"""The ``Services`` port: everything a service function, the ledger, the worker
and the reports need, as one value. ``custos.bootstrap`` builds it from the
configuration; only the faces (API, CLI, worker command) import the bootstrap,
and everything below them receives this value (STYLE 1)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from custos.clock import Clock
from custos.config import Settings
from custos.connectors.registry import ConnectorRegistry
from custos.credentials.sealed import Sealer
from custos.credentials.sealing_keys import KeySource
from custos.notify.base import Notifier
from custos.notify.sms import SmsGateway, SmsOutbox
from custos.policy.loader import LoadedPolicy
from custos.store.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from custos.idv.verify import IdvVerifier
    from custos.sso.relying_party import OidcRelyingParty


@dataclass
class Services:
    settings: Settings
    engine: Engine
    policy: LoadedPolicy
    #: The sealing key ring (its MAC subkeys too), followed while the process runs.
    key: KeySource
    notifier: Notifier
    clock: Clock
    registry: ConnectorRegistry
    #: Where SMS codes go; None: the demo's outbox folder (``sms_outbox_dir``).
    sms_gateway: SmsGateway | None = None
    sealer: Sealer = field(init=False)
    mac_key: bytes = field(init=False, repr=False)
    # idv and sso are built at first use: their modules import jwt, httpx,
    # authlib and joserfc, which every command reading the store would otherwise
    # load (bench/cli.py); building them does no I/O and checks nothing.
    _idv: IdvVerifier | None = field(init=False, default=None, repr=False, compare=False)
    _sso: OidcRelyingParty | None = field(init=False, default=None, repr=False, compare=False)
    _sso_built: bool = field(init=False, default=False, repr=False, compare=False)
    _building: threading.Lock = field(
        init=False, default_factory=threading.Lock, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self.sealer = Sealer(self.key)
        self.mac_key = self.key.subkey("custos/codes/v1")

    @property
    def idv(self) -> IdvVerifier:
        """Re-proofing providers with their cached key sets (custos.idv), one
        for the life of these services."""
        if self._idv is None:
            with self._building:
                if self._idv is None:
                    from custos.idv.verify import IdvVerifier

                    self._idv = IdvVerifier(self.settings.proofing, self.clock)
        return self._idv

    @property
    def sso(self) -> OidcRelyingParty | None:
        """Operator single sign-on to the console (custos.sso), one for the
        life of these services; None: not configured."""
        if not self._sso_built:
            with self._building:
                oidc = self.settings.console.oidc
                if not self._sso_built and oidc is not None:
                    from custos.sso.relying_party import OidcRelyingParty

                    self._sso = OidcRelyingParty(oidc, self.clock)
                self._sso_built = True
        return self._sso

    @property
    def sms(self) -> SmsGateway:
        """The SMS gateway in use (the outbox when none was given)."""
        return self.sms_gateway or SmsOutbox(self.settings.effective_sms_outbox)

    def uow(self, *, read_only: bool = False) -> UnitOfWork:
        """A unit of work; ``read_only`` for one that only reads (on SQLite it
        then takes no write lock, so it never waits for a writer)."""
        return UnitOfWork(self.engine, read_only=read_only, clock=self.clock)
