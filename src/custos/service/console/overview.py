"""What waits for an operator (the console's start page): the cases in their
scope that their roles let them move on, newest first. Nothing here is a secret."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from custos.domain.model import Operator, Role
from custos.domain.states import CaseState
from custos.service.console.approval_inbox import InboxCase, inbox
from custos.service.ports import Services
from custos.service.recovery.queries import list_cases

#: How many cases of each kind the start page lists.
LIMIT = 50


@dataclass(frozen=True, slots=True)
class Overview:
    to_approve: list[InboxCase] = field(default_factory=list)
    to_execute: list[dict[str, Any]] = field(default_factory=list)
    need_attention: list[dict[str, Any]] = field(default_factory=list)
    my_open: list[dict[str, Any]] = field(default_factory=list)


OPEN_STATES = (CaseState.OPENED, CaseState.PROOFING, CaseState.AWAITING_APPROVAL)


def waiting_for(svc: Services, operator: Operator) -> Overview:
    """The cases waiting for ``operator``: to approve (the approval inbox: what
    they may decide), to execute, needing attention, and their own open requests."""
    to_approve: list[InboxCase] = []
    to_execute: list[dict[str, Any]] = []
    attention: list[dict[str, Any]] = []
    mine: list[dict[str, Any]] = []
    if operator.has_role(Role.APPROVER):
        to_approve = inbox(svc, operator, limit=LIMIT)
    if operator.has_role(Role.EXECUTOR):
        to_execute = list_cases(svc, operator, state=CaseState.APPROVED, limit=LIMIT)
    if operator.has_role(Role.REQUESTER) or operator.has_role(Role.EXECUTOR):
        attention = list_cases(svc, operator, state=CaseState.NEEDS_ATTENTION, limit=LIMIT)
    if operator.has_role(Role.REQUESTER):
        for state in OPEN_STATES:
            mine += [
                c
                for c in list_cases(svc, operator, state=state, limit=LIMIT)
                if c["requested_by"] == operator.actor
            ]
    return Overview(
        to_approve=to_approve, to_execute=to_execute, need_attention=attention, my_open=mine
    )
