"""A pending self-service flow settled by several processes at once (the
subject's own next step on one API process, the workers' sweeps) opens
exactly one case, on SQLite and PostgreSQL. Found by the soak bench
(issue 16): each racer used to open and commit its own case."""

from __future__ import annotations

from functools import partial

from process_race import race
from sqlalchemy import func, select

from conftest import World
from custos.credentials.tokens import token_digest
from custos.service.ports import Services
from custos.service.recovery import self_service
from custos.store.tables import cases, ledger, self_service_flows

RACERS = 8


def _resolve(svc: Services, *, digest: str) -> None:
    self_service.resolve_pending(svc, digest)


def test_pending_flow_resolved_by_racing_processes_opens_one_case(world: World) -> None:
    """One recovery request, one case and one case:opened event, however many
    processes settle its flow at once: the trail records each request once
    (R-36), no orphan case is left open."""
    world.subject("olivia")
    handle = self_service.start(world.svc, identifier="olivia", source_address="10.0.0.1")
    results = race(world, [partial(_resolve, digest=token_digest(handle))] * RACERS)
    assert results.count("ok") >= 1, results
    with world.svc.engine.connect() as conn:
        opened = conn.execute(select(cases.c.id).where(cases.c.subject_id == "olivia")).all()
        events = conn.execute(
            select(func.count()).where(ledger.c.type == "case:case:opened")
        ).scalar_one()
        flow_case = conn.execute(select(self_service_flows.c.case_id)).scalar_one()
    assert len(opened) == 1, opened
    assert events == 1
    assert flow_case == opened[0].id
