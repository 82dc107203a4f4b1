"""Contractors under the default policy, whose contractor tier requires the
sponsor's attestation (``proofing.required``): the sponsor is asked only once
the subject has passed a first proof, the requests are capped per subject and
per sponsor (the policy's defaults), and a contractor whose contract has ended
is refused. On SQLite and PostgreSQL. (The same over a real SMTP server:
tests/e2e/test_sponsor_mail_caps.py.)"""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import timedelta

from assisted_helpers import link_token, with_manager
from fastapi.testclient import TestClient
from recoveries import PASSWORD

from conftest import World
from custos.api.app import create_app
from custos.domain.errors import ProofingFailed
from custos.domain.states import CaseState
from custos.policy.engine import select_tier
from custos.service.recovery import credentials, self_service
from custos.service.recovery.queries import case_detail

SPONSOR = "mia@example.org"


def test_the_default_contractor_tier_requires_the_sponsor(world: World) -> None:
    """Issue 13 / R-1: the shipped policy's contractor tier takes two factors,
    one of them always the sponsor's attestation (the help desk's documented
    risk analysis names it)."""
    with_manager(world, "carl", "mia", contractor=True)
    with world.svc.uow() as uow:
        carl = uow.subjects.get("carl")
    assert carl is not None
    tier = select_tier(world.svc.policy, carl)
    assert tier.name == "contractor"
    assert tier.proofing is not None
    assert tier.proofing.required == ("manager_attestation",)
    assert tier.proofing.factors == 2


def _start(world: World, subject_id: str = "carl") -> str:
    flow = self_service.start(world.svc, identifier=subject_id, source_address="10.2.2.2")
    self_service.request_email_code(world.svc, handle=flow)  # resolves the flow
    return flow


def _sponsor_mails(world: World) -> int:
    return len(world.mail(SPONSOR, "attestation_request"))


def test_five_anonymous_starts_send_the_sponsor_no_mail(world: World) -> None:
    """Before the fix five anonymous starts sent the sponsor ten mails: the
    request went out as the flow resolved, before anyone proved anything. Now
    no start alone sends the sponsor anything."""
    with_manager(world, "carl", "mia", contractor=True)
    for _ in range(5):
        _start(world)
    world.drain()
    assert _sponsor_mails(world) == 0


def test_the_sponsor_is_asked_after_the_first_proof_and_the_attestation_is_needed(
    world: World,
) -> None:
    """A contractor's email code alone does not recover: the sponsor is asked
    once the code passed, attests, and only then the reset link goes out."""
    with_manager(world, "carl", "mia", contractor=True)
    flow = _start(world)
    assert _sponsor_mails(world) == 0
    proof = self_service.submit_proof(
        world.svc, handle=flow, method="email_code", response=world.last_code("carl")
    )
    assert proof.status == "more_proof_required"
    assert world.mail("carl@example.org", "reset_link") == []
    token = link_token(world, SPONSOR, "attestation_request")
    with TestClient(create_app(world.svc)) as api:
        assert api.post("/api/v1/attestations/attest", json={"token": token}).status_code == 200
    # the contractor tier keeps its approver: the case waits for one
    case_id = self_service.case_of_flow(world.svc, flow)
    assert case_id is not None
    assert case_detail(world.svc, None, case_id)["state"] == "awaiting_approval"
    assert _sponsor_mails(world) == 1


def test_a_wrong_code_never_asks_the_sponsor(world: World) -> None:
    with_manager(world, "carl", "mia", contractor=True)
    flow = _start(world)
    with contextlib.suppress(ProofingFailed):
        self_service.submit_proof(world.svc, handle=flow, method="email_code", response="00000000")
    assert _sponsor_mails(world) == 0


def test_attestation_requests_are_capped_per_subject(world: World) -> None:
    """The default policy allows 2 attestation requests per subject a day."""
    with_manager(world, "carl", "mia", contractor=True)
    for _ in range(4):
        flow = _start(world)
        self_service.submit_proof(
            world.svc, handle=flow, method="email_code", response=world.last_code("carl")
        )
        world.clock.advance(timedelta(hours=1))
    assert _sponsor_mails(world) == 2
    world.clock.advance(timedelta(days=1))
    flow = _start(world)
    self_service.submit_proof(
        world.svc, handle=flow, method="email_code", response=world.last_code("carl")
    )
    assert _sponsor_mails(world) == 3


def test_attestation_requests_are_capped_per_sponsor(world: World) -> None:
    """One sponsor of many contractors gets at most 5 requests a day."""
    world.subject("mia")
    names = [f"con{i}" for i in range(7)]
    for name in names:
        with_manager(world, name, "mia", contractor=True)
    for name in names:
        flow = _start(world, name)
        self_service.submit_proof(
            world.svc, handle=flow, method="email_code", response=world.last_code(name)
        )
    assert _sponsor_mails(world) == 5


def test_a_contractor_is_refused_after_the_contract_end_date(world: World) -> None:
    """The contract ended yesterday: the case opens denied, the sponsor is never
    asked, no code is sent, and the caller's answers are the usual ones."""
    with_manager(world, "carl", "mia", contractor=True)
    with world.svc.uow() as uow:
        carl = uow.subjects.get("carl")
        assert carl is not None
        ended = world.clock.now() - timedelta(days=1)
        uow.subjects.update(dataclasses.replace(carl, contract_end=ended))
        uow.commit()
    flow = _start(world)
    assert world.mail("carl@example.org", "email_code") == []
    with contextlib.suppress(ProofingFailed):
        self_service.submit_proof(world.svc, handle=flow, method="email_code", response="12345678")
    with world.svc.uow() as uow:
        (case_id,) = uow.cases.ids_in_states({CaseState.DENIED})
    detail = case_detail(world.svc, None, case_id)
    assert "contract of 'carl' ended on" in detail["outcome_reason"]
    assert _sponsor_mails(world) == 0


def test_a_contractor_before_the_end_date_recovers_with_the_sponsor(world: World) -> None:
    """R-14: the contract ends tomorrow; the email code and the sponsor's
    attestation prove, an approver approves, the subject sets a password."""
    from custos.domain.model import Role
    from custos.service.recovery import cases

    with_manager(world, "carl", "mia", contractor=True)
    with world.svc.uow() as uow:
        carl = uow.subjects.get("carl")
        assert carl is not None
        uow.subjects.update(
            dataclasses.replace(carl, contract_end=world.clock.now() + timedelta(days=1))
        )
        uow.commit()
    flow = _start(world)
    case_id = self_service.case_of_flow(world.svc, flow)
    assert case_id is not None
    self_service.submit_proof(
        world.svc, handle=flow, method="email_code", response=world.last_code("carl")
    )
    token = link_token(world, SPONSOR, "attestation_request")
    with TestClient(create_app(world.svc)) as api:
        assert api.post("/api/v1/attestations/attest", json={"token": token}).status_code == 200
    world.operator("linus", Role.APPROVER)
    world.operator("edsger", Role.EXECUTOR)
    cases.approve(world.svc, world.operators["linus"], case_id, reason="sponsor attested")
    cases.execute(world.svc, world.operators["edsger"], case_id)
    credentials.redeem(world.svc, token=world.last_link_token("carl"), new_password=PASSWORD)
    world.drain()
    assert case_detail(world.svc, None, case_id)["state"] == "completed"
