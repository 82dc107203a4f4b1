"""Operator histories for the oversight tests (docs/oversight.md), written
through the service commands."""

from __future__ import annotations

from datetime import timedelta

from approval_world import awaiting_case

from conftest import World
from custos.domain.model import Role
from custos.service.recovery import cases


def approve_three(world: World, *, wait: timedelta, approver: str = "ines") -> None:
    """Hana opens three contractors' cases (proofed by TOTP); ``approver`` (made
    an approver if unknown) approves each ``wait`` after it opened."""
    if approver not in world.operators:
        world.operator(approver, Role.APPROVER)
    for name in ("kim", "lou", "max"):
        case_id = awaiting_case(world, name)
        world.clock.advance(wait)
        cases.approve(world.svc, world.operators[approver], case_id, reason="caller verified")


def fast_approvals(world: World) -> None:
    """Three approvals 30 s after opening (a ``fast_approval`` alert), then the
    worker's passes."""
    approve_three(world, wait=timedelta(seconds=30))
    world.drain()
