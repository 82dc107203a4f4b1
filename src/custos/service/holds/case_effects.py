"""What holds do to cases, in the caller's transaction: a hold blocks the open
cases of every subject it applies to; when the last hold on a subject ends,
the cases a hold blocked go back to the state they stood in. Each move is a
``case:case:state_changed`` event naming the hold."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from custos.domain.holds import HoldRecord, kinds_in_words
from custos.domain.model import Case, Subject
from custos.domain.states import HOLD_RETURNS, CaseState
from custos.store.unit_of_work import UnitOfWork


def block_reason(holds: Collection[HoldRecord]) -> str:
    """Why a case is blocked, naming the holds (their reasons stay in their own
    events)."""
    named = ", ".join(f"{h.id} ({h.kind})" for h in holds)
    return f"recovery is blocked while a hold stands on the subject: {named}"


def block_cases(
    uow: UnitOfWork,
    hold: HoldRecord,
    *,
    now: datetime,
    actor: str,
    skip: Collection[str] = (),
) -> list[str]:
    """Block the cases of the subject, or of every member of the group, that
    wait on evidence, a decision or the subject; returns their ids. ``skip``:
    cases the caller holds and moves itself (a fraud flag's own case)."""
    ids = uow.cases.ids_under_hold(HOLD_RETURNS, subject_id=hold.subject_id, group=hold.group)
    blocked = []
    for case_id in ids:
        if case_id in skip:
            continue
        case = uow.cases.get(case_id, for_update=True)
        if case.hold(at=now, actor=actor, reason=block_reason([hold])):
            uow.cases.save(case)
            blocked.append(case_id)
    return blocked


def release_cases(
    uow: UnitOfWork, ended: HoldRecord, *, now: datetime, actor: str, how: str
) -> list[str]:
    """After ``ended`` was lifted or expired (``how``): every case it could have
    blocked whose subject no other hold stands on goes back to where it stood;
    returns their ids."""
    ids = uow.cases.ids_under_hold(
        {CaseState.BLOCKED}, subject_id=ended.subject_id, group=ended.group, held_only=True
    )
    released = []
    for case_id in ids:
        case = uow.cases.get(case_id, for_update=True)
        subject = uow.subjects.get(case.subject_id)
        assert subject is not None  # cases reference subjects by foreign key
        if uow.holds.standing_on(subject.id, subject.groups, now):
            continue
        reason = f"the last hold on the subject ended: {ended.id} ({ended.kind}) {how}"
        if case.release(at=now, actor=actor, reason=reason):
            uow.cases.save(case)
            released.append(case_id)
    return released


def reconcile_subject(
    uow: UnitOfWork, subject: Subject, *, now: datetime, actor: str
) -> tuple[list[str], list[str]]:
    """Bring one subject's cases in line with the holds standing on it now
    (after its groups changed: a group hold applies to members who join
    later, and stops applying to those who leave). Returns the ids blocked
    and released."""
    standing = uow.holds.standing_on(subject.id, subject.groups, now)
    blocked: list[str] = []
    released: list[str] = []
    if standing:
        reason = block_reason(standing)
        for case_id in uow.cases.ids_under_hold(HOLD_RETURNS, subject_id=subject.id):
            case = uow.cases.get(case_id, for_update=True)
            if case.hold(at=now, actor=actor, reason=reason):
                uow.cases.save(case)
                blocked.append(case_id)
        return blocked, released
    ids = uow.cases.ids_under_hold({CaseState.BLOCKED}, subject_id=subject.id, held_only=True)
    for case_id in ids:
        case = uow.cases.get(case_id, for_update=True)
        if case.release(at=now, actor=actor, reason="no hold applies to the subject any more"):
            uow.cases.save(case)
            released.append(case_id)
    return blocked, released


def hold_in_memory(case: Case, subject: Subject, *, now: datetime, actor: str) -> bool:
    """Block ``case`` (not saved) when holds stand on ``subject`` (its
    ``holds`` as read) and the case waits in a state a hold blocks; whether it
    did. For a command that finds a held subject's case still open (a case
    opened while the hold was being set)."""
    if not subject.holds:
        return False
    reason = (
        f"recovery is blocked while a hold stands on the subject ({kinds_in_words(subject.holds)})"
    )
    return case.hold(at=now, actor=actor, reason=reason)
