"""Read models for the faces: case lists and a case's full story (timeline,
approvals, receipts, checks). Nothing here returns a secret or a digest of one."""

from __future__ import annotations

from typing import Any

from custos.domain import sod
from custos.domain.events import EventType
from custos.domain.model import Case, Operator
from custos.domain.states import CaseState
from custos.service.ports import Services
from custos.service.recovery.case_transaction import hidden_case
from custos.store.mapping import requirements_to_json


def list_cases(
    svc: Services,
    operator: Operator | None,
    *,
    state: CaseState | None = None,
    subject_id: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Up to ``limit`` cases newest first; an operator sees only subjects in
    their scope (``operator`` None: the local CLI, which has the database
    anyway). Scope is applied before the limit: the store is read page by page
    until ``limit`` visible cases are found or none are left."""
    with svc.uow() as uow:
        if operator is None or "*" in operator.scope:
            return uow.cases.search(state=state, subject_id=subject_id, limit=limit)
        visible: list[dict[str, Any]] = []
        covers: dict[str, bool] = {}
        offset = 0
        while len(visible) < limit:
            rows = uow.cases.search(state=state, subject_id=subject_id, limit=limit, offset=offset)
            for row in rows:
                subject_id_of_row = row["subject_id"]
                if subject_id_of_row not in covers:
                    subject = uow.subjects.get(subject_id_of_row)
                    covers[subject_id_of_row] = subject is not None and operator.covers(subject)
                if covers[subject_id_of_row]:
                    visible.append(row)
            if len(rows) < limit:
                break
            offset += limit
        return visible[:limit]


def case_detail(svc: Services, operator: Operator | None, case_id: str) -> dict[str, Any]:
    """Everything known about one case. Raises NotFound (also for a case outside
    the operator's scope, so scope does not leak which cases exist)."""
    with svc.uow() as uow:
        case = uow.cases.get(case_id)
        subject = uow.subjects.get(case.subject_id)
        assert subject is not None
        if operator is not None:
            try:
                sod.check_scope(operator, subject)
            except Exception as exc:
                raise hidden_case(case_id) from exc
        receipts = uow.receipts.for_case(case_id)
        checks = uow.receipts.checks_for_case(case_id)
        timeline = uow.ledger.for_case(case_id)
        # Imported here: agent_challenge pulls in the notices, mail templates and
        # zxcvbn, which a case listing (the same module) does not need.
        from custos.service.ceremonies import agent_challenge

        # Agents see a challenge's state only, never its link or code.
        challenges = agent_challenge.statuses(uow, case_id, svc.clock.now())
        names = {f"operator:{op.id}": op.name for op in uow.operators.all()}
    return {
        "actors": {
            actor: name
            for actor, name in names.items()
            if any(e["actor"] == actor for e in timeline)
        },
        "id": case.id,
        "subject": {
            "id": subject.id,
            "display_name": subject.display_name,
            "kind": str(subject.kind),
            "privileged": subject.privileged,
        },
        "channel": str(case.channel),
        "reason": case.reason,
        "ticket": ticket_of(timeline),
        "state": str(case.state),
        # Blocked by a hold: the state it goes back to when the last hold ends.
        "held_from": None if case.held_from is None else str(case.held_from),
        # Sent on under break-glass (docs/exceptions.md): by whom, with which exception.
        "break_glass": _break_glass(case, names),
        "opened_at": case.opened_at.isoformat(),
        "updated_at": case.updated_at.isoformat(),
        "expires_at": case.expires_at.isoformat(),
        "outcome_reason": case.outcome_reason,
        "tier": case.requirements.tier,
        "policy_hash": case.requirements.policy_hash,
        "requirements": requirements_to_json(case.requirements),
        "risk": {
            "score": case.risk.score,
            "band": case.risk.band,
            "reasons": list(case.risk.reasons),
        },
        "requested_by": case.requested_by,
        "approvals": [
            {"operator": a.operator_id, "at": a.decided_at.isoformat(), "reason": a.reason}
            for a in case.approvals
        ],
        "proofs": [
            {"method": p.method, "passed": p.passed, "at": p.at.isoformat(), "actor": p.actor}
            for p in case.proofs
        ],
        "executed_by": case.executed_by,
        "executed_at": case.executed_at.isoformat() if case.executed_at else None,
        "validated_by": case.validated_by,
        "validated_at": case.validated_at.isoformat() if case.validated_at else None,
        "receipts": [
            {
                "target": r.target,
                "account": r.account_id,
                "required": r.required,
                "state": str(r.state),
                "attempts": r.attempts,
                "answer": r.answer,
                "error": r.last_error,
                "updated_at": r.updated_at.isoformat(),
                "next_attempt_at": r.next_attempt_at.isoformat(),
            }
            for r in receipts
        ],
        "checks": [{**c, "at": c["at"].isoformat()} for c in checks],
        "challenges": challenges,
        "timeline": [
            {
                "seq": e["seq"],
                "time": e["time"],
                "type": e["type"],
                "actor": e["actor"],
                "outcome": e["outcome"],
                "reason": e["reason"],
                "data": e["data"],
            }
            for e in timeline
        ],
    }


def ticket_of(timeline: list[dict[str, Any]]) -> str | None:
    """The help-desk ticket reference recorded when the case opened, if any."""
    for event in timeline:
        if event["type"] == str(EventType.CASE_OPENED):
            ticket = event["data"].get("ticket")
            return str(ticket) if ticket else None
    return None


def _break_glass(case: Case, names: dict[str, str]) -> dict[str, Any] | None:
    use = case.requirements.break_glass
    if use is None:
        return None
    return {
        "exception": use.exception,
        "invoked_by": use.invoked_by,
        "invoked_by_name": names.get(use.invoked_by, use.invoked_by),
        "at": use.at.isoformat(),
        "security_groups": sorted(use.security_groups),
    }
