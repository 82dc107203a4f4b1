"""Drive whole recoveries through the service layer (no HTTP), for tests that
need realistic ledgers: export, reports, metrics."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from sponsor_attestation import sponsor_attests, with_sponsor

from conftest import World
from custos.connectors.builtin import BuiltinDirectory
from custos.connectors.errors import PasswordPolicy
from custos.domain.errors import ProofingFailed
from custos.domain.model import Employment, Role
from custos.service.recovery import cases, credentials, self_service
from custos.store.tables import linked_accounts

PASSWORD = "saffron-kettle-glacier-19-drum"


class Refusing(BuiltinDirectory):
    """A built-in directory that refuses every password (a non-retryable failure)."""

    def set_password(self, account_id: str, password: str, *, must_change: bool) -> str:
        raise PasswordPolicy("too similar to an old password")


def self_service_recovery(
    world: World,
    subject_id: str,
    *,
    wrong_codes: int = 0,
    minutes: int = 0,
    password: str = PASSWORD,
    source_address: str = "10.1.1.1",
) -> str:
    """A subject recovers alone by email code; ``wrong_codes`` failed attempts
    first; the clock moves ``minutes`` before ``password`` is set. Returns the case
    id once the token is redeemed (propagation is the worker's: ``world.drain()``)."""
    flow = self_service.start(world.svc, identifier=subject_id, source_address=source_address)
    self_service.request_email_code(world.svc, handle=flow)
    for _ in range(wrong_codes):
        with contextlib.suppress(ProofingFailed):
            self_service.submit_proof(
                world.svc, handle=flow, method="email_code", response="00000000"
            )
    self_service.submit_proof(
        world.svc, handle=flow, method="email_code", response=world.last_code(subject_id)
    )
    world.clock.advance(timedelta(minutes=minutes))
    token = world.last_link_token(subject_id)
    return credentials.redeem(world.svc, token=token, new_password=password).case_id


def helpdesk_recovery(world: World, subject_id: str, *, minutes: int = 0) -> str:
    """A contractor recovered through the help desk with TOTP proofing, the
    sponsor's attestation (the contractor tier requires it) and one approval by
    a second person (dual control). Returns the case id."""
    world.subject(
        subject_id, employment=Employment.CONTRACTOR, groups=("contractors",), with_totp=True
    )
    with_sponsor(world, subject_id)
    for name, role in (
        ("hana", Role.REQUESTER),
        ("linus", Role.APPROVER),
        ("edsger", Role.EXECUTOR),
    ):
        if name not in world.operators:
            world.operator(name, role)
    ops = world.operators
    case = cases.open_helpdesk_case(
        world.svc, ops["hana"], subject_id=subject_id, reason="caller lost phone and password"
    )
    cases.add_proof(
        world.svc, ops["hana"], case.id, method="totp", response=world.totp_now(subject_id)
    )
    sponsor_attests(world, ops["hana"], case.id)
    cases.approve(world.svc, ops["linus"], case.id, reason="caller verified by TOTP")
    cases.execute(world.svc, ops["edsger"], case.id)
    world.clock.advance(timedelta(minutes=minutes))
    credentials.redeem(world.svc, token=world.last_link_token(subject_id), new_password=PASSWORD)
    return case.id


def link_refusing_target(world: World, subject_id: str, target: str = "cloud") -> None:
    """Give ``subject_id`` a second account on a target that refuses every password."""
    world.svc.registry.register(target, Refusing(target, world.svc.engine), kind="builtin")
    BuiltinDirectory(target, world.svc.engine).create_account(subject_id, "x" * 20)
    with world.svc.uow() as uow:
        uow.conn.execute(
            linked_accounts.insert().values(
                target=target, account_id=subject_id, subject_id=subject_id
            )
        )
        uow.commit()
