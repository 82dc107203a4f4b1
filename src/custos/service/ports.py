"""The ``Services`` port: everything a service function, the ledger, the worker
and the reports need, as one value. ``custos.bootstrap`` builds it from the
configuration; only the faces (API, CLI, worker command) import the bootstrap,
and everything below them receives this value (STYLE 1)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from custos.clock import Clock
from custos.config import Settings
from custos.connectors.registry import ConnectorRegistry
from custos.credentials.sealed import Sealer
from custos.credentials.sealing_keys import KeySource
from custos.idv.verify import IdvVerifier
from custos.notify.base import Notifier
from custos.notify.sms import SmsGateway, SmsOutbox
from custos.policy.loader import LoadedPolicy
from custos.sso.relying_party import OidcRelyingParty
from custos.store.unit_of_work import UnitOfWork


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
    #: Re-proofing providers with their cached key sets (custos.idv).
    idv: IdvVerifier = field(init=False, repr=False)
    #: Operator single sign-on to the console (custos.sso); None: not configured.
    sso: OidcRelyingParty | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.sealer = Sealer(self.key)
        self.mac_key = self.key.subkey("custos/codes/v1")
        self.idv = IdvVerifier(self.settings.proofing, self.clock)
        oidc = self.settings.console.oidc
        self.sso = None if oidc is None else OidcRelyingParty(oidc, self.clock)

    @property
    def sms(self) -> SmsGateway:
        """The SMS gateway in use (the outbox when none was given)."""
        return self.sms_gateway or SmsOutbox(self.settings.effective_sms_outbox)

    def uow(self, *, read_only: bool = False) -> UnitOfWork:
        """A unit of work; ``read_only`` for one that only reads (on SQLite it
        then takes no write lock, so it never waits for a writer)."""
        return UnitOfWork(self.engine, read_only=read_only, clock=self.clock)
