"""Races decided by the database, across separate processes, on SQLite and
PostgreSQL: one token redeemed by 50 processes at once; one approver racing
twice for a quorum of two."""

from __future__ import annotations

import multiprocessing as mp
from datetime import datetime
from typing import Any

from webauthn_authenticator import enrol_webauthn, prove_case_with_key

from conftest import World
from custos.bootstrap import bootstrap
from custos.clock import ManualClock
from custos.config import load_settings
from custos.domain.errors import DomainError
from custos.domain.model import Role
from custos.service import cases, credentials, self_service
from custos.store.tables import reset_tokens, sealed_secrets

RACERS = 50
PASSWORD = "violet-harbour-cinnamon-42-kite"


def _child_services(settings: dict[str, Any], now: str) -> Any:
    config = load_settings(None, **settings)
    return bootstrap(config, clock=ManualClock(datetime.fromisoformat(now)))


def _settings_of(world: World) -> dict[str, Any]:
    s = world.svc.settings
    assert s.sealing_key is not None
    return {
        "data_dir": s.data_dir,
        "database_url": s.effective_database_url,
        "sealing_key": s.sealing_key.get_secret_value(),
        "outbox_dir": s.effective_outbox,
        "public_origin": s.public_origin,
    }


def _redeem(settings: dict[str, Any], now: str, token: str, barrier: Any, out: Any) -> None:
    svc = _child_services(settings, now)
    barrier.wait(timeout=120)
    try:
        credentials.redeem(svc, token=token, new_password=PASSWORD)
        out.put("ok")
    except DomainError as exc:
        out.put(exc.error_id)
    except Exception as exc:  # reported, so a crash is a visible failure, not a hang
        out.put(f"crash:{type(exc).__name__}:{exc}")
    finally:
        svc.engine.dispose()


def _approve(
    settings: dict[str, Any], now: str, operator: Any, case_id: str, barrier: Any, out: Any
) -> None:
    svc = _child_services(settings, now)
    barrier.wait(timeout=120)
    try:
        cases.approve(svc, operator, case_id, reason="verified")
        out.put("ok")
    except DomainError as exc:
        out.put(exc.error_id)
    except Exception as exc:
        out.put(f"crash:{type(exc).__name__}:{exc}")
    finally:
        svc.engine.dispose()


def _race(target: Any, args_for: list[tuple[Any, ...]]) -> list[str]:
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(len(args_for))
    out = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, barrier, out)) for args in args_for]
    for p in procs:
        p.start()
    results = [out.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    return results


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
    settings, now = _settings_of(world), world.clock.now().isoformat()
    world.svc.engine.dispose()  # no pooled connection crosses the fork
    results = _race(_redeem, [(settings, now, token)] * RACERS)
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
    settings, now = _settings_of(world), world.clock.now().isoformat()
    world.svc.engine.dispose()
    ada = world.operators["ada"]
    results = _race(_approve, [(settings, now, ada, case.id)] * 2)
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
    settings, now = _settings_of(world), world.clock.now().isoformat()
    world.svc.engine.dispose()
    results = _race(
        _approve, [(settings, now, world.operators[n], case.id) for n in ("ada", "grace")]
    )
    assert results == ["ok", "ok"]
    with world.svc.uow() as uow:
        stored = uow.cases.get(case.id)
    assert stored.state == "approved"
    assert {a.person for a in stored.approvals} == {"ada", "grace"}
