"""The worker's expiry sweep: cases waiting on a decision expire when their
lifetime runs out; a case blocked by a hold is not swept, however long the hold
stands (leaving it takes the break-glass path)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conftest import World
from custos.domain.errors import RecoveryBlocked
from custos.domain.model import Hold, Role
from custos.domain.states import CaseState
from custos.propagation.worker import Worker
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
