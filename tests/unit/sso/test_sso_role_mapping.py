"""Groups to operator roles and scope: every matching rule applies, their roles
and scopes united; groups are compared exactly; no match, no role."""

from __future__ import annotations

from custos.config import RoleRule
from custos.domain.model import Role
from custos.sso.role_mapping import map_groups

RULES = [
    RoleRule(group="helpdesk", roles=[Role.REQUESTER], scope=["staff"]),
    RoleRule(group="approvers", roles=[Role.APPROVER, Role.REQUESTER], scope=["finance"]),
    RoleRule(group="auditors", roles=[Role.AUDITOR], scope=["*"]),
]


def test_matching_rules_are_united() -> None:
    access = map_groups(RULES, ["helpdesk", "approvers", "canteen"])
    assert access.roles == {Role.REQUESTER, Role.APPROVER}
    assert access.scope == {"staff", "finance"}
    assert access.matched_groups == {"helpdesk", "approvers"}
    assert not access.empty


def test_no_matching_group_gives_no_role() -> None:
    access = map_groups(RULES, ["canteen", "Helpdesk"])  # case matters
    assert access.empty
    assert access.roles == frozenset() and access.scope == frozenset()


def test_no_groups_gives_no_role() -> None:
    assert map_groups(RULES, []).empty
