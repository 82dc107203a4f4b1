"""Races decided by the database, across separate processes, on SQLite and
PostgreSQL: one token redeemed by 50 processes at once; one approver racing
twice for a quorum of two."""

from __future__ import annotations

from functools import partial

from process_race import race
from webauthn_authenticator import enrol_webauthn, prove_case_with_key

from conftest import World
from custos.domain.model import Operator, Role
from custos.service.ports import Services
from custos.service.recovery import cases, credentials, self_service
from custos.store.tables import reset_tokens, sealed_secrets

RACERS = 50
PASSWORD = "violet-harbour-cinnamon-42-kite"


def _redeem(svc: Services, *, token: str) -> None:
    credentials.redeem(svc, token=token, new_password=PASSWORD)


def _approve(svc: Services, *, operator: Operator, case_id: str) -> None:
    cases.approve(svc, operator, case_id, reason="verified")


def _issued_token(world: World, subject: str) -> str:
    flow = self_service.start(world.svc, identifier=subject, source_address="10.0.0.1")
    self_service.request_email_code(world.svc, handle=flow)
    self_service.submit_proof(
        world.svc, handle=flow, method="email_code", response=world.last_code(subject)
    )
    return world.last_link_token(subject)


def test_fifty_processes_redeeming_one_token_give_one_success(world: World) -> None:
    """Single use holds across processes: exactly one of 50 concurrent
    redemptions succeeds, the rest are refused (R-17)."""
    world.subject("olivia")
    token = _issued_token(world, "olivia")
    results = race(world, [partial(_redeem, token=token)] * RACERS)
    assert results.count("ok") == 1, results
    assert set(results) - {"ok"} == {"token_invalid"}, results
    with world.svc.engine.connect() as conn:
        rows = list(conn.execute(reset_tokens.select()))
        secrets = list(conn.execute(sealed_secrets.select()))
    assert [r.consumed_at is not None for r in rows] == [True]
    assert len(secrets) == 1
    world.drain()
    assert world.directory.verify_password("olivia", PASSWORD)


def test_one_approver_racing_twice_does_not_meet_a_quorum_of_two(world: World) -> None:
    """One person counts once in a quorum even when racing from two processes
    (R-32, R-33)."""
    world.subject("root", privileged=True, groups=("it-admins",), with_totp=True, codes=2)
    key = enrol_webauthn(world, "root")
    world.operator("hana", Role.REQUESTER)
    world.operator("ada", Role.APPROVER, groups=("security-approvers",))
    case = cases.open_helpdesk_case(
        world.svc, world.operators["hana"], subject_id="root", reason="locked out"
    )
    # The privileged tier needs a phishing-resistant factor: the subject's own key.
    prove_case_with_key(world, world.operators["hana"], case.id, "root", key)
    cases.add_proof(
        world.svc,
        world.operators["hana"],
        case.id,
        method="recovery_code",
        response=world.recovery_codes["root"][0],
    )
    ada = world.operators["ada"]
    results = race(world, [partial(_approve, operator=ada, case_id=case.id)] * 2)
    assert sorted(results) == ["ok", "sod_violation"], results
    with world.svc.uow() as uow:
        stored = uow.cases.get(case.id)
    assert len(stored.approvals) == 1
    assert stored.state == "awaiting_approval"


def test_two_distinct_approvers_racing_both_count(world: World) -> None:
    """Two different persons approving at the same moment meet the quorum (R-32)."""
    world.subject("root", privileged=True, groups=("it-admins",), with_totp=True, codes=2)
    key = enrol_webauthn(world, "root")
    world.operator("hana", Role.REQUESTER)
    world.operator("ada", Role.APPROVER, groups=("security-approvers",))
    world.operator("grace", Role.APPROVER, groups=("security-approvers",))
    case = cases.open_helpdesk_case(
        world.svc, world.operators["hana"], subject_id="root", reason="locked out"
    )
    # The privileged tier needs a phishing-resistant factor: the subject's own key.
    prove_case_with_key(world, world.operators["hana"], case.id, "root", key)
    cases.add_proof(
        world.svc,
        world.operators["hana"],
        case.id,
        method="recovery_code",
        response=world.recovery_codes["root"][1],
    )
    results = race(
        world,
        [partial(_approve, operator=world.operators[n], case_id=case.id) for n in ("ada", "grace")],
    )
    assert results == ["ok", "ok"]
    with world.svc.uow() as uow:
        stored = uow.cases.get(case.id)
    assert stored.state == "approved"
    assert {a.person for a in stored.approvals} == {"ada", "grace"}
