"""Operator histories for the oversight tests (docs/oversight.md), written
through the service commands."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from approval_world import awaiting_case
from sponsor_attestation import sponsor_attests, with_sponsor
from sqlalchemy import select

from conftest import START, World
from custos.domain.errors import ProofingFailed
from custos.domain.events import EventType
from custos.domain.model import Employment, Role
from custos.policy.loader import DEFAULT_POLICY_PATH
from custos.service.recovery import cases
from custos.store.tables import ledger


def approve_three(world: World, *, wait: timedelta, approver: str = "ines") -> None:
    """Hana opens three contractors' cases (proofed by TOTP); ``approver`` (made
    an approver if unknown) approves each ``wait`` after it opened."""
    if approver not in world.operators:
        world.operator(approver, Role.APPROVER)
    for name in ("kim", "lou", "max"):
        case_id = awaiting_case(world, name)
        world.clock.advance(wait)
        cases.approve(world.svc, world.operators[approver], case_id, reason="caller verified")


def fast_approvals(world: World) -> None:
    """Three approvals 30 s after opening (a ``fast_approval`` alert), then the
    worker's passes."""
    approve_three(world, wait=timedelta(seconds=30))
    world.drain()


#: Thresholds low enough for short histories, set so each seeded history of
#: tests/integration/oversight/test_anomaly_signals.py reaches one signal only
#: (working hours end at noon UTC: 14:00 UTC is off hours, still business
#: hours in Berlin for the risk engine).
SIGNAL_THRESHOLDS = {
    "volume_min": 4,
    "volume_factor": 3,
    "min_cases": 3,
    "privileged_share_increase": 0.4,
    "work_starts": 7,
    "work_ends": 12,
    "off_hours_min": 3,
    "off_hours_share_increase": 0.5,
    "pair_min_approvals": 4,
    "pair_share": 0.6,
    "approval_streak": 5,
    "failures_before_success": 2,
    "groups_min_history": 4,
    "unusual_subjects_min": 2,
}


def signals_policy(folder: Path) -> Path:
    """The shipped policy with :data:`SIGNAL_THRESHOLDS` in its oversight section."""
    policy = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    policy["oversight"] = {"anomalies": dict(SIGNAL_THRESHOLDS)}
    path = folder / "oversight-policy.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class History:
    """An operator history written through the service commands at chosen
    times (the World's clock only moves forward)."""

    world: World
    made: int = 0

    def at(self, day: int, hour: int, minute: int = 0) -> None:
        """Move the clock to ``day`` days after START's midnight, ``hour``:``minute`` UTC."""
        midnight = START.replace(hour=0, minute=0)
        target = midnight + timedelta(days=day, hours=hour, minutes=minute)
        assert target >= self.world.clock.now(), "histories are written in time order"
        self.world.clock.advance(target - self.world.clock.now())

    def _subject_id(self) -> str:
        self.made += 1
        return f"sub{self.made:02d}"

    def case(self, *, requester: str = "hana", groups: tuple[str, ...] = ("contractors",)) -> str:
        """A contractor's case opened and proofed (TOTP) by ``requester``."""
        return awaiting_case(self.world, self._subject_id(), requester=requester, groups=groups)

    def privileged_case(self, *, requester: str = "hana") -> str:
        """A privileged subject's help-desk case opened by ``requester`` (not proofed)."""
        subject_id = self._subject_id()
        self.world.subject(subject_id, privileged=True, groups=("contractors",), with_totp=True)
        if requester not in self.world.operators:
            self.world.operator(requester, Role.REQUESTER)
        operator = self.world.operators[requester]
        return cases.open_helpdesk_case(
            self.world.svc, operator, subject_id=subject_id, reason="caller locked out"
        ).id

    def proofed_after_failures(self, failures: int, *, requester: str = "hana") -> str:
        """A contractor's case whose TOTP proof passes after ``failures`` wrong codes
        (then the sponsor attests, as the contractor tier requires)."""
        subject_id = self._subject_id()
        self.world.subject(
            subject_id, employment=Employment.CONTRACTOR, groups=("contractors",), with_totp=True
        )
        with_sponsor(self.world, subject_id)
        if requester not in self.world.operators:
            self.world.operator(requester, Role.REQUESTER)
        operator = self.world.operators[requester]
        case_id = cases.open_helpdesk_case(
            self.world.svc, operator, subject_id=subject_id, reason="caller lost phone"
        ).id
        for _ in range(failures):
            wrong = f"{(int(self.world.totp_now(subject_id)) + 1) % 1_000_000:06d}"
            with pytest.raises(ProofingFailed):
                cases.add_proof(self.world.svc, operator, case_id, method="totp", response=wrong)
            self.world.clock.advance(timedelta(minutes=2))
        right = self.world.totp_now(subject_id)
        cases.add_proof(self.world.svc, operator, case_id, method="totp", response=right)
        sponsor_attests(self.world, operator, case_id)
        return case_id

    def approve(self, case_id: str, *, approver: str = "ines") -> None:
        """``approver`` approves ``case_id`` ten minutes on (never a fast approval)."""
        self._decider(approver)
        self.world.clock.advance(timedelta(minutes=10))
        cases.approve(self.world.svc, self.world.operators[approver], case_id, reason="verified")

    def deny(self, case_id: str, *, approver: str = "ines") -> None:
        self._decider(approver)
        self.world.clock.advance(timedelta(minutes=10))
        cases.deny(self.world.svc, self.world.operators[approver], case_id, reason="not convinced")

    def _decider(self, approver: str) -> None:
        if approver not in self.world.operators:
            self.world.operator(approver, Role.APPROVER)


def ledger_seqs(
    world: World,
    event_type: str,
    *,
    case_ids: list[str] | None = None,
    outcome: str | None = None,
    operator: str | None = None,
) -> list[int]:
    """The seqs of the ledger's entries of ``event_type`` (on ``case_ids``; of
    ``outcome``; by the World's ``operator``, not the sponsor who attests)."""
    query = select(ledger.c.seq).where(ledger.c.type == event_type).order_by(ledger.c.seq)
    if operator is not None:
        query = query.where(ledger.c.actor == world.operators[operator].actor)
    if case_ids is not None:
        query = query.where(ledger.c.case_id.in_(case_ids))
    if outcome is not None:
        query = query.where(ledger.c.outcome == outcome)
    with world.svc.engine.connect() as conn:
        return [int(seq) for (seq,) in conn.execute(query)]


def state_changes_to(world: World, state: str, case_ids: list[str]) -> list[int]:
    """The seqs of the ``case:case:state_changed`` entries into ``state`` of ``case_ids``."""
    query = (
        select(ledger.c.seq, ledger.c.canonical)
        .where(ledger.c.type == str(EventType.CASE_STATE_CHANGED))
        .where(ledger.c.case_id.in_(case_ids))
        .order_by(ledger.c.seq)
    )
    with world.svc.engine.connect() as conn:
        rows = list(conn.execute(query))
    return [int(seq) for seq, canonical in rows if json.loads(canonical)["data"].get("to") == state]
