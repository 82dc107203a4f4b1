"""What the shared connector contract suite needs from each kind of target.

A kind registers a session fixture named ``<kind>_harness`` (for the real server)
in ``tests/servers/<kind>.py``; ``tests/contract/conftest.py`` parametrizes the
suite over every kind in ``KINDS``. Capability-dependent tests are generated only
for kinds whose connector class offers the capability: a capability a target
lacks is never faked, and never turns into a skip either."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from custos.connectors.spi import class_capabilities


@dataclass
class Harness:
    kind: str
    #: The connector under test, configured against the real server.
    connector: object
    #: Create a fresh account with a random password on the real server; returns
    #: (account_id as Custos names it, its current password).
    create_account: Callable[[], tuple[str, str]]
    #: Whether ``password`` opens ``account_id`` on the server (a real bind/login).
    can_login: Callable[[str, str], bool]
    #: A new password the server's own policy accepts (length/complexity).
    strong_password: Callable[[], str]


def _classes() -> dict[str, type]:
    from custos.connectors.active_directory import ActiveDirectoryConnector
    from custos.connectors.builtin import BuiltinDirectory
    from custos.connectors.entra import EntraConnector
    from custos.connectors.ldap import LdapConnector
    from custos.connectors.lemonldap import LemonLdapConnector
    from custos.connectors.okta import OktaConnector
    from custos.connectors.scim import ScimConnector

    return {
        "builtin": BuiltinDirectory,
        "ldap": LdapConnector,
        "ad": ActiveDirectoryConnector,
        "scim": ScimConnector,
        "lemonldap": LemonLdapConnector,
        "entra": EntraConnector,
        "okta": OktaConnector,
    }


KINDS = ("builtin", "ldap", "ad", "scim", "lemonldap", "entra", "okta")


def kinds_with(capability: str) -> list[str]:
    classes = _classes()
    return [kind for kind in KINDS if capability in class_capabilities(classes[kind])]
