"""The worker's expiry sweep: cases waiting on a decision expire when their
lifetime runs out; a case blocked by a hold is not swept, however long the hold
stands: one refused while held leaves through the break-glass path, one the
hold blocked while it was open goes back when the hold is lifted."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conftest import World
from custos.domain.errors import RecoveryBlocked
from custos.domain.model import Hold, Role
from custos.domain.states import CaseState
from custos.propagation.worker import Worker
from custos.service.holds import commands
from custos.service.recovery import cases


def test_expire_cases_leaves_blocked_case_while_hold_stands(world: World) -> None:
    """R-32: a held subject's blocked case stays blocked past its lifetime; only
    the proofing case opened beside it expires."""
    world.subject("held", holds=(Hold.LEGAL_HOLD,))
    world.subject("free", with_totp=True)
    world.operator("hana", Role.REQUESTER)
    with pytest.raises(RecoveryBlocked) as blocked:
        cases.open_helpdesk_case(
            world.svc, world.operators["hana"], subject_id="held", reason="caller"
        )
    blocked_id = str(blocked.value.details["case_id"])
    live = cases.open_helpdesk_case(
        world.svc, world.operators["hana"], subject_id="free", reason="caller"
    )
    assert live.state == CaseState.PROOFING

    world.clock.advance(timedelta(days=30))
    Worker(world.svc, owner="expiry-test").expire_cases()

    with world.svc.uow(read_only=True) as uow:
        held = uow.cases.get(blocked_id)
        assert held.state == CaseState.BLOCKED
        assert uow.cases.get(live.id).state == CaseState.EXPIRED


def test_a_case_a_hold_blocked_outlives_its_lifetime_and_comes_back_live(world: World) -> None:
    """An open case blocked by a hold set later is not swept as expired however
    long the hold stands; when the hold is lifted it goes back to proofing with
    the time it had left (the time held does not count)."""
    world.subject("dana", with_totp=True)
    world.operator("hana", Role.REQUESTER)
    world.operator("ada", Role.APPROVER, groups=("security-approvers",))
    world.operator("grace", Role.APPROVER, groups=("security-approvers",))
    case = cases.open_helpdesk_case(
        world.svc, world.operators["hana"], subject_id="dana", reason="caller"
    )
    left = case.expires_at - world.clock.now()
    held = commands.set_hold(
        world.svc,
        world.operators["ada"],
        kind="legal_hold",
        subject_id="dana",
        reason="matter 12",
        ticket="LEG-12",
    )
    assert held.cases_blocked == (case.id,)

    world.clock.advance(timedelta(days=30))
    Worker(world.svc, owner="expiry-test").expire_cases()
    with world.svc.uow(read_only=True) as uow:
        assert uow.cases.get(case.id).state == CaseState.BLOCKED

    commands.lift_hold(world.svc, world.operators["grace"], held.hold.id, reason="settled")
    Worker(world.svc, owner="expiry-test").expire_cases()
    with world.svc.uow(read_only=True) as uow:
        back = uow.cases.get(case.id)
    assert back.state == CaseState.PROOFING
    assert back.expires_at - world.clock.now() == left
