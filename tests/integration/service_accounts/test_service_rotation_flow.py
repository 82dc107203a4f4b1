"""Owner-requested rotation of a service account on both backends, against the
built-in directory (a target that holds two credentials): the owner asks and
proves with their own factor, an approver approves, Custos generates the value,
sets it, keeps the old one for the grace period and then revokes it (R-40); the
owner retrieves the value once; a non-owner is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from service_world import link_token, owner, rotate, service_account
from sqlalchemy import select

from conftest import World
from custos.domain.events import EventType
from custos.domain.states import CaseState
from custos.propagation.worker import Worker
from custos.service.service_accounts import issuing, requests
from custos.service.service_accounts.errors import NotServiceOwner, SecretLinkInvalid
from custos.store.tables import ledger

OLD = "old-svc-backup-password-1"


def _events(world: World, subject_id: str) -> list[str]:
    with world.svc.engine.connect() as conn:
        return list(
            conn.execute(
                select(ledger.c.type)
                .where(ledger.c.subject_id == subject_id)
                .order_by(ledger.c.seq)
            ).scalars()
        )


def _state(world: World, case_id: str) -> CaseState:
    with world.svc.uow(read_only=True) as uow:
        return uow.cases.get(case_id).state


def test_rotation_keeps_the_old_password_for_the_grace_period_then_revokes_it(
    world: World,
) -> None:
    """R-40: on a target holding two credentials both work until the grace period
    ends; then the worker revokes the old one (read back) and records it."""
    owner(world, "ana")
    service_account(world, "svc-backup", ("ana",))
    world.directory.set_password("svc-backup", OLD, must_change=False)
    case_id = rotate(world, "ana", "svc-backup")
    world.drain()
    assert _state(world, case_id) == CaseState.COMPLETED
    secret = issuing.retrieve(world.svc, token=link_token(world, "ana", case_id)).secret
    assert len(secret) == 40
    assert world.directory.authenticate("svc-backup", secret)
    assert world.directory.authenticate("svc-backup", OLD)  # the grace period runs
    assert EventType.CREDENTIAL_GRACE_STARTED in _events(world, "svc-backup")
    world.clock.advance(timedelta(hours=23))
    Worker(world.svc, owner="t").run_once()
    assert world.directory.authenticate("svc-backup", OLD)
    assert EventType.CREDENTIAL_OLD_REVOKED not in _events(world, "svc-backup")
    world.clock.advance(timedelta(hours=2))
    Worker(world.svc, owner="t").run_once()
    assert not world.directory.authenticate("svc-backup", OLD)
    assert world.directory.authenticate("svc-backup", secret)
    assert _events(world, "svc-backup").count(EventType.CREDENTIAL_OLD_REVOKED) == 1


def test_rotation_request_by_a_non_owner_is_refused_and_recorded(world: World) -> None:
    """Only an owner may request (docs/service-accounts.md); the refusal is a
    ledger event and no case opens."""
    owner(world, "ana")
    owner(world, "mallory")
    service_account(world, "svc-backup", ("ana",))
    with pytest.raises(NotServiceOwner) as refused:
        requests.request_rotation(
            world.svc, owner_id="mallory", service_id="svc-backup", reason="let me in"
        )
    assert refused.value.error_id == "not_service_owner"
    assert _events(world, "svc-backup") == [EventType.SERVICE_ROTATION_REFUSED]


def test_a_non_owner_cannot_prove_on_an_owners_rotation_case(world: World) -> None:
    """The evidence must come from an owner: a non-owner's TOTP is refused."""
    owner(world, "ana")
    owner(world, "mallory")
    service_account(world, "svc-backup", ("ana",))
    case = requests.request_rotation(
        world.svc, owner_id="ana", service_id="svc-backup", reason="yearly"
    )
    with pytest.raises(NotServiceOwner):
        requests.prove_owner(
            world.svc,
            owner_id="mallory",
            case_id=case.id,
            method="totp",
            response=world.totp_now("mallory"),
        )
    assert _state(world, case.id) == CaseState.PROOFING


def test_the_secret_link_works_once(world: World) -> None:
    """R-17: the link is single use; the second opening is refused and recorded,
    and the sealed copy for the owner is gone."""
    owner(world, "ana")
    service_account(world, "svc-backup", ("ana",))
    case_id = rotate(world, "ana", "svc-backup")
    world.drain()
    token = link_token(world, "ana", case_id)
    first = issuing.retrieve(world.svc, token=token)
    assert first.service_id == "svc-backup"
    with pytest.raises(SecretLinkInvalid):
        issuing.retrieve(world.svc, token=token)
    with world.svc.uow(read_only=True) as uow:
        record = uow.rotations.for_case(case_id)
    assert record is not None and record.sealed_secret is None
    events = _events(world, "svc-backup")
    assert events.count(EventType.SERVICE_SECRET_RETRIEVED) == 1
    assert events.count(EventType.SERVICE_SECRET_RETRIEVAL_REFUSED) == 1


def test_an_unretrieved_link_lapses_and_its_copy_is_wiped(world: World) -> None:
    """The link is short-lived (token_ttl 30m): past it the worker wipes the copy."""
    owner(world, "ana")
    service_account(world, "svc-backup", ("ana",))
    case_id = rotate(world, "ana", "svc-backup")
    world.drain()
    token = link_token(world, "ana", case_id)
    world.clock.advance(timedelta(minutes=31))
    Worker(world.svc, owner="t").run_once()
    with pytest.raises(SecretLinkInvalid):
        issuing.retrieve(world.svc, token=token)
    assert EventType.SERVICE_SECRET_LAPSED in _events(world, "svc-backup")
