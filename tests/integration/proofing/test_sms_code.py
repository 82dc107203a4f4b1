"""SMS codes through the pluggable gateway: success, expiry after 10 minutes,
single use, and the SIM-swap block (R-13, R-15, R-44), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from risk_world import add_phone, last_sms_code, report_sim_swap, risk_world, texts

from conftest import BACKENDS, World
from custos.domain.errors import ProofingFailed, SmsBlocked
from custos.domain.model import Role
from custos.domain.states import CaseState
from custos.notify.sms import SmsMessage
from custos.service.notices import sms_commands
from custos.service.recovery import cases, self_service
from custos.service.signals import risk_signals
from custos.store.tables import ledger


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    yield from risk_world(request.param, tmp_path)


def start(world: World, subject: str) -> str:
    return self_service.start(world.svc, identifier=subject, source_address="10.0.0.1")


def ledger_types(world: World) -> list[str]:
    with world.svc.engine.connect() as conn:
        return [r.type for r in conn.execute(ledger.select().order_by(ledger.c.seq))]


def test_sms_code_recovers_through_the_gateway(world: World) -> None:
    """R-13, R-15: a code to the confirmed phone, bound to the case, accepted once."""
    world.subject("sam")
    add_phone(world, "sam")
    flow = start(world, "sam")
    self_service.request_sms_code(world.svc, handle=flow)
    (text,) = texts(world)
    assert text["to"] == "+491701234567" and text["kind"] == "sms_code"
    assert "Valid 10 minutes" in text["body"]
    result = self_service.submit_proof(
        world.svc, handle=flow, method="sms_code", response=last_sms_code(world)
    )
    assert result.status == "link_sent"
    assert "proofing:contact:code_sent" in ledger_types(world)


def test_sms_code_expires_after_ten_minutes(world: World) -> None:
    world.subject("sue")
    add_phone(world, "sue")
    flow = start(world, "sue")
    self_service.request_sms_code(world.svc, handle=flow)
    code = last_sms_code(world)
    world.clock.advance(timedelta(minutes=10, seconds=1))
    with pytest.raises(ProofingFailed):
        self_service.submit_proof(world.svc, handle=flow, method="sms_code", response=code)


def test_sms_code_is_single_use(world: World) -> None:
    """A second factor is needed (incident -> medium), so the case stays in
    proofing after the first use and the replay is refused by the store."""
    world.subject("sid")
    add_phone(world, "sid")
    world.operator("hana", Role.REQUESTER)
    hana = world.operators["hana"]
    risk_signals.start_incident(world.svc, group=None, by="admin:t", reason="drill")
    case = cases.open_helpdesk_case(
        world.svc, hana, subject_id="sid", reason="caller", source_address="10.0.0.1"
    )
    sms_commands.send_sms_code(world.svc, hana, case.id)
    code = last_sms_code(world)
    first = cases.add_proof(world.svc, hana, case.id, method="sms_code", response=code)
    assert first.passed and first.state == CaseState.PROOFING
    with pytest.raises(ProofingFailed):
        cases.add_proof(world.svc, hana, case.id, method="sms_code", response=code)


def test_sim_swap_blocks_sms_for_operators_with_sms_blocked(world: World) -> None:
    """R-44: the agent gets the sms_blocked error id; the refusal is on the case."""
    world.subject("tom")
    add_phone(world, "tom")
    world.operator("hana", Role.REQUESTER)
    hana = world.operators["hana"]
    case = cases.open_helpdesk_case(world.svc, hana, subject_id="tom", reason="caller")
    sms_commands.send_sms_code(world.svc, hana, case.id)
    code = last_sms_code(world)
    report_sim_swap(world, "tom")
    with pytest.raises(SmsBlocked) as sent:
        sms_commands.send_sms_code(world.svc, hana, case.id)
    assert sent.value.error_id == "sms_blocked"
    with pytest.raises(SmsBlocked):
        cases.add_proof(world.svc, hana, case.id, method="sms_code", response=code)
    assert len(texts(world)) == 1
    assert ledger_types(world).count("proofing:sms:blocked") == 2


def test_sim_swap_blocks_sms_silently_in_self_service(world: World) -> None:
    """R-44 and R-19: no text, and the same generic answers as any failure."""
    world.subject("una")
    add_phone(world, "una")
    flow = start(world, "una")
    self_service.request_sms_code(world.svc, handle=flow)
    code = last_sms_code(world)
    report_sim_swap(world, "una")
    self_service.request_sms_code(world.svc, handle=flow)  # no error, nothing sent
    assert len(texts(world)) == 1
    with pytest.raises(ProofingFailed) as failed:
        self_service.submit_proof(world.svc, handle=flow, method="sms_code", response=code)
    assert failed.value.message == self_service.GENERIC_FAILURE


def test_sim_swap_block_lapses_after_the_configured_days(world: World) -> None:
    world.subject("vic")
    add_phone(world, "vic")
    report_sim_swap(world, "vic")
    world.clock.advance(timedelta(days=7, seconds=1))
    flow = start(world, "vic")
    self_service.request_sms_code(world.svc, handle=flow)
    assert len(texts(world)) == 1


def test_a_custom_gateway_receives_the_texts(world: World) -> None:
    """The gateway is pluggable: any object with send(SmsMessage)."""
    sent: list[SmsMessage] = []

    class Recorder:
        def send(self, message: SmsMessage) -> None:
            sent.append(message)

    world.svc.sms_gateway = Recorder()
    world.subject("wes")
    add_phone(world, "wes", "+15550100")
    self_service.request_sms_code(world.svc, handle=start(world, "wes"))
    assert sent == []  # the request only writes the outbox
    assert texts(world) == []  # the sweep ran: it went through the custom gateway
    assert [m.to for m in sent] == ["+15550100"]
