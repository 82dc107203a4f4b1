"""Builds the configured connectors and answers which target can do what."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from custos.config import (
    ActiveDirectoryTarget,
    BuiltinTarget,
    EntraTarget,
    LdapTarget,
    LemonLdapTarget,
    OktaTarget,
    TargetConfig,
)
from custos.connectors.builtin import BuiltinDirectory
from custos.connectors.errors import Unsupported
from custos.connectors.spi import OPERATIONS, capabilities, class_capabilities


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    kind: str
    connector: object
    disabled: frozenset[str]
    #: What the connector implements minus what configuration disables, worked
    #: out once (protocol checks are slow, and the worker asks per account).
    capabilities: frozenset[str]


def build_connector(name: str, cfg: TargetConfig, engine: Engine) -> object:
    """One connector per target. Directory connectors are imported only when
    configured: python-ldap is an optional extra the embedded demo does not need."""
    if isinstance(cfg, BuiltinTarget):
        return BuiltinDirectory(name, engine)
    if isinstance(cfg, LdapTarget):
        from custos.connectors.ldap import LdapConnector

        return LdapConnector(name, cfg)
    if isinstance(cfg, ActiveDirectoryTarget):
        from custos.connectors.active_directory import ActiveDirectoryConnector

        return ActiveDirectoryConnector(name, cfg)
    if isinstance(cfg, LemonLdapTarget):
        from custos.connectors.lemonldap import LemonLdapConnector

        return LemonLdapConnector(name, cfg)
    if isinstance(cfg, EntraTarget):
        from custos.connectors.entra import EntraConnector

        return EntraConnector(name, cfg)
    if isinstance(cfg, OktaTarget):
        from custos.connectors.okta import OktaConnector

        return OktaConnector(name, cfg)
    from custos.connectors.scim import ScimConnector

    return ScimConnector(name, cfg)


def connector_class(cfg: TargetConfig) -> type:
    """The connector class a target configuration builds (imported lazily, as
    ``build_connector`` does)."""
    if isinstance(cfg, BuiltinTarget):
        return BuiltinDirectory
    if isinstance(cfg, LdapTarget):
        from custos.connectors.ldap import LdapConnector

        return LdapConnector
    if isinstance(cfg, ActiveDirectoryTarget):
        from custos.connectors.active_directory import ActiveDirectoryConnector

        return ActiveDirectoryConnector
    if isinstance(cfg, LemonLdapTarget):
        from custos.connectors.lemonldap import LemonLdapConnector

        return LemonLdapConnector
    if isinstance(cfg, EntraTarget):
        from custos.connectors.entra import EntraConnector

        return EntraConnector
    if isinstance(cfg, OktaTarget):
        from custos.connectors.okta import OktaConnector

        return OktaConnector
    from custos.connectors.scim import ScimConnector

    return ScimConnector


def configured_capabilities(targets: dict[str, TargetConfig]) -> dict[str, frozenset[str]]:
    """What each configured target offers (its class's operations minus what its
    configuration switches off), without connecting anywhere: ``policy check``
    judges the checks a policy requires against it."""
    return {
        name: class_capabilities(connector_class(cfg)) - frozenset(cfg.disabled_capabilities)
        for name, cfg in targets.items()
    }


class ConnectorRegistry:
    def __init__(self) -> None:
        self._targets: dict[str, Target] = {}

    @classmethod
    def from_config(cls, targets: dict[str, TargetConfig], engine: Engine) -> ConnectorRegistry:
        registry = cls()
        for name, cfg in targets.items():
            unknown = set(cfg.disabled_capabilities) - set(OPERATIONS)
            if unknown:
                raise ValueError(
                    f"target '{name}': unknown capabilities {sorted(unknown)}; "
                    f"known: {sorted(OPERATIONS)}"
                )
            connector = build_connector(name, cfg, engine)
            registry.register(
                name, connector, kind=cfg.kind, disabled=frozenset(cfg.disabled_capabilities)
            )
        return registry

    def register(
        self, name: str, connector: object, *, kind: str, disabled: frozenset[str] = frozenset()
    ) -> None:
        self._targets[name] = Target(
            name=name,
            kind=kind,
            connector=connector,
            disabled=disabled,
            capabilities=capabilities(connector, disabled),
        )

    def capability_map(self) -> dict[str, frozenset[str]]:
        """Each target's name and the operations it offers."""
        return {name: target.capabilities for name, target in self._targets.items()}

    def names(self) -> list[str]:
        return sorted(self._targets)

    def get(self, name: str) -> Target:
        try:
            return self._targets[name]
        except KeyError:
            raise Unsupported(f"no target named '{name}' is configured") from None

    def has(self, name: str) -> bool:
        return name in self._targets

    def offers(self, name: str, op: str) -> bool:
        """Whether a target ``name`` is configured and offers ``op``."""
        target = self._targets.get(name)
        return target is not None and op in target.capabilities

    def operation(self, name: str, op: str) -> object:
        """The connector of target ``name`` if it offers ``op``; raises Unsupported."""
        target = self.get(name)
        if op not in target.capabilities:
            raise Unsupported(f"target '{name}' does not offer '{op}'")
        return target.connector
