"""Replay the cases of a period under a candidate policy (docs/policy.md#simulation).

The candidate is checked exactly as ``custos policy check`` and every start
check a policy (the file's problems with their lines, then required
post-recovery checks no configured target can run) and refused with those
problems before anything is read. The cases, their subjects, the hold records, the
sync entries of the ledger and the recorded policies' texts are read in one read-only
transaction (PostgreSQL runs it READ ONLY) that is never committed; the
comparison itself is :func:`custos.policy.simulate.simulate`. A simulation
changes nothing and writes no ledger event: it decides nothing and reveals no
more than the case list an admin already reads.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from pathlib import Path

from custos.domain.errors import InvalidInput
from custos.domain.events import EventType
from custos.domain.model import Case, Operator, Subject
from custos.ledger.policies import policy_text
from custos.policy.loader import (
    LoadedPolicy,
    PolicyError,
    load_policy,
    parse_policy,
    require_runnable_checks,
)
from custos.policy.simulate import RecordedCase, SimulationReport, simulate
from custos.policy.simulation_period import simulation_period
from custos.service.console.administration import require_admin
from custos.service.ports import Services
from custos.store.unit_of_work import UnitOfWork

#: The most cases one simulation replays; a longer period is refused, not cut.
MAX_CASES = 20_000
#: The largest candidate text the console takes (a policy file is a few KB).
MAX_POLICY_BYTES = 256 * 1024


def candidate_file(svc: Services, path: Path) -> LoadedPolicy:
    """The policy file at ``path``, checked as ``custos policy check`` checks it
    under this configuration's targets. Raises PolicyError with every problem."""
    return _runnable(svc, load_policy(path))


def candidate_text(svc: Services, text: str, source: str) -> LoadedPolicy:
    """Policy ``text`` (pasted or uploaded; ``source`` names it in problems),
    checked as :func:`candidate_file` checks a file. Raises PolicyError."""
    return _runnable(svc, parse_policy(text, source))


def _runnable(svc: Services, loaded: LoadedPolicy) -> LoadedPolicy:
    # What bootstrap refuses too: a required check no configured target can run.
    require_runnable_checks(loaded, svc.registry.capability_map())
    return loaded


def simulate_period(
    svc: Services, candidate: LoadedPolicy, *, since: datetime, until: datetime
) -> SimulationReport:
    """Replay every case opened from ``since`` (included) to ``until``
    (excluded) under ``candidate``. Raises InvalidInput when the period holds
    more than :data:`MAX_CASES` cases."""
    with svc.uow(read_only=True) as uow:
        count = uow.cases.count_opened_between(since, until)
        if count > MAX_CASES:
            raise InvalidInput(
                f"the period holds {count} cases; a simulation replays at most "
                f"{MAX_CASES}: choose a shorter period",
                cases=count,
                limit=MAX_CASES,
            )
        recorded = _recorded_cases(uow, uow.cases.opened_between(since, until, limit=MAX_CASES))
    return simulate(candidate, recorded, since=since, until=until)


def simulate_in_console(
    svc: Services,
    operator: Operator,
    *,
    text: str,
    source: str,
    since: str | None,
    until: str | None,
) -> SimulationReport:
    """The console's simulation, for admins only: the period from the form's
    fields, the candidate from the pasted or uploaded text. Raises
    NotAuthorized, InvalidInput, PolicyError."""
    require_admin(operator)
    start, end = simulation_period(since, until, svc.clock.now(), names=("Since", "Until"))
    if not text.strip():
        raise InvalidInput("paste a candidate policy or choose its file")
    if len(text.encode("utf-8")) > MAX_POLICY_BYTES:
        raise InvalidInput(f"a candidate policy may be at most {MAX_POLICY_BYTES // 1024} KB")
    return simulate_period(svc, candidate_text(svc, text, source), since=start, until=end)


def _recorded_cases(uow: UnitOfWork, cases: list[Case]) -> list[RecordedCase]:
    """Each case with what the store and the ledger say about it now."""
    if not cases:
        return []
    subject_ids = {c.subject_id for c in cases}
    subjects: dict[str, Subject] = uow.subjects.get_many(subject_ids)
    entries = uow.ledger.about_subjects(
        [EventType.SUBJECT_ATTRIBUTES_CHANGED],
        subject_ids,
        since=min(c.opened_at for c in cases),
    )
    syncs: dict[str, list[tuple[datetime, list[str]]]] = defaultdict(list)
    for entry in entries:
        names = [str(name) for name in entry["data"].get("changed", ())]
        syncs[entry["subject"]].append((entry["occurred_at"], names))
    policies = {h: _stored_policy(uow, h) for h in {c.requirements.policy_hash for c in cases}}
    # Holds are records with their times: the ones that stood when each case
    # opened, on the subject or on one of its (current) groups.
    groups = {g for s in subjects.values() for g in s.groups}
    holds = uow.holds.set_by(subject_ids, groups, max(c.opened_at for c in cases))
    found = []
    for case in cases:
        # At the case's own instant counts too: better a needless warning than none.
        changed = {
            name for at, names in syncs[case.subject_id] if at >= case.opened_at for name in names
        }
        subject = subjects.get(case.subject_id)
        held = frozenset(
            h.kind
            for h in holds
            if subject is not None
            and h.applies_to(case.subject_id, subject.groups)
            and h.stood_at(case.opened_at)
        )
        found.append(
            RecordedCase(
                case_id=case.id,
                subject_id=case.subject_id,
                opened_at=case.opened_at,
                channel=case.channel,
                state=str(case.state),
                risk_score=case.risk.score,
                requirements=case.requirements,
                subject=subject,
                changed_since=tuple(sorted(changed)),
                recorded_policy=policies[case.requirements.policy_hash],
                holds_then=held,
            )
        )
    return found


def _stored_policy(uow: UnitOfWork, policy_hash: str) -> LoadedPolicy | None:
    """The policy a case's hash names, when its text is stored and still loads
    under today's schema (an older text may not)."""
    text = policy_text(uow.conn, policy_hash)
    if text is None:
        return None
    try:
        return parse_policy(text, policy_hash)
    except PolicyError:
        return None
