"""Groups to operator roles and scope: every ``[[console.oidc.role_mapping]]``
rule whose group the person is in applies, and their roles and scopes are
united (an operator has one scope for all of their roles)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from custos.config import RoleRule
from custos.domain.model import Role


@dataclass(frozen=True, slots=True)
class MappedAccess:
    roles: frozenset[Role]
    scope: frozenset[str]
    #: The groups that matched a rule, for the ledger.
    matched_groups: frozenset[str]

    @property
    def empty(self) -> bool:
        return not self.roles


def map_groups(rules: Iterable[RoleRule], groups: Iterable[str]) -> MappedAccess:
    """The roles and scope ``groups`` give under ``rules`` (groups compared
    exactly); no role when no rule matches."""
    member_of = set(groups)
    roles: set[Role] = set()
    scope: set[str] = set()
    matched: set[str] = set()
    for rule in rules:
        if rule.group in member_of:
            roles.update(rule.roles)
            scope.update(rule.scope)
            matched.add(rule.group)
    return MappedAccess(frozenset(roles), frozenset(scope), frozenset(matched))
