"""Owner departure (R-39), unowned service accounts, and rotation schedules
(R-40) on both backends: the departing owner's every service account passes to
the successor (a ledger event each) and is rotated; accounts without an owner
are reported; a credential past the tier's max_age opens a rotation case and
its owner is told."""

from __future__ import annotations

from datetime import timedelta

import pytest
from service_world import confirm, link_token, owner, service_account
from sqlalchemy import select

from conftest import World
from custos.domain.errors import NotAuthorized
from custos.domain.events import EventType
from custos.domain.model import Role
from custos.domain.states import CaseState
from custos.propagation.worker import Worker
from custos.service.service_accounts import issuing, owners
from custos.store.tables import ledger


def _transfers(world: World) -> list[str | None]:
    with world.svc.engine.connect() as conn:
        return list(
            conn.execute(
                select(ledger.c.subject_id)
                .where(ledger.c.type == str(EventType.SERVICE_OWNER_TRANSFERRED))
                .order_by(ledger.c.subject_id)
            ).scalars()
        )


def test_owner_departure_transfers_and_rotates_every_service_account(world: World) -> None:
    """R-39: both accounts Ana owns (one shared with Carl) pass to Bo, each with a
    ledger event; Dan's account stays his; each account is rotated once Bo
    confirms: its old password stops (after the grace period) and the new works."""
    for person in ("ana", "bo", "carl", "dan"):
        owner(world, person)
    service_account(world, "svc-a", ("ana",))
    service_account(world, "svc-b", ("carl", "ana"))
    service_account(world, "svc-d", ("dan",))
    world.operator("hr", Role.ADMIN)
    transfers = owners.depart(
        world.svc, world.operators["hr"], owner_id="ana", successor_id="bo", reason="HR-42 left"
    )
    assert sorted(t.service_id for t in transfers) == ["svc-a", "svc-b"]
    assert _transfers(world) == ["svc-a", "svc-b"]
    with world.svc.uow(read_only=True) as uow:
        owners_now = {s: uow.subjects.get(s).owners for s in ("svc-a", "svc-b", "svc-d")}  # type: ignore[union-attr]
    assert owners_now == {"svc-a": ("bo",), "svc-b": ("carl", "bo"), "svc-d": ("dan",)}
    for transfer in transfers:
        assert transfer.case_state == str(CaseState.PROOFING)
        confirm(world, "bo", transfer.case_id)
    world.drain()
    values = {
        t.service_id: issuing.retrieve(world.svc, token=link_token(world, "bo", t.case_id)).secret
        for t in transfers
    }
    world.clock.advance(timedelta(hours=25))
    Worker(world.svc, owner="t").run_once()
    for transfer in transfers:
        with world.svc.uow(read_only=True) as uow:
            assert uow.cases.get(transfer.case_id).state == CaseState.COMPLETED
        old = f"old-{transfer.service_id}-password-1"
        assert world.directory.authenticate(transfer.service_id, values[transfer.service_id])
        assert not world.directory.authenticate(transfer.service_id, old)
    assert world.directory.authenticate("svc-d", "old-svc-d-password-1")


def test_owner_departure_needs_an_admin(world: World) -> None:
    """An HR event moves ownership: only an admin records it."""
    owner(world, "ana")
    owner(world, "bo")
    service_account(world, "svc-a", ("ana",))
    world.operator("agent", Role.REQUESTER)
    with pytest.raises(NotAuthorized):
        owners.depart(
            world.svc, world.operators["agent"], owner_id="ana", successor_id="bo", reason="x"
        )
    assert _transfers(world) == []


def test_service_accounts_without_an_owner_are_reported(world: World) -> None:
    """No owner, or owners who are no person Custos knows: reported; owned: not."""
    owner(world, "ana")
    service_account(world, "svc-owned", ("ana",))
    service_account(world, "svc-orphan", ())
    service_account(world, "svc-ghost", ("gone",))
    found = {u.service_id: u.why for u in owners.unowned(world.svc)}
    assert set(found) == {"svc-orphan", "svc-ghost"}
    assert found["svc-orphan"] == "no owner on record"


def test_a_credential_past_max_age_opens_a_rotation_case_and_tells_the_owner(
    world: World,
) -> None:
    """R-40: an account known for 91 days (the default tier's max_age is 90)
    gets one rotation case, and its owner a notice; one known for 89 days does
    not; a later pass opens no second case while the first is open."""
    owner(world, "ana")
    service_account(world, "svc-old", ("ana",), age=timedelta(days=91))
    service_account(world, "svc-young", ("ana",), age=timedelta(days=89))
    Worker(world.svc, owner="t").run_once()
    world.clock.advance(timedelta(hours=2))
    Worker(world.svc, owner="t").run_once()
    due = world.mail("ana@example.org", "service_rotation_due")
    assert len(due) == 1
    case_id = due[0]["case_id"]
    with world.svc.uow(read_only=True) as uow:
        case = uow.cases.get(case_id)
    assert case.state == CaseState.PROOFING and case.subject_id == "svc-old"
    confirm(world, "ana", case_id)
    world.drain()
    with world.svc.uow(read_only=True) as uow:
        assert uow.cases.get(case_id).state == CaseState.COMPLETED
        assert uow.rotations.for_case(case_id) is not None
