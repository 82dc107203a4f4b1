"""A case's story for auditors (docs/console.md#audit): who requested,
approved, executed and validated it, and every ledger entry of the case with
its time, actor, type and outcome. Read only; scope applies as in the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from custos.domain.model import Operator
from custos.ledger.proofs import require_ledger_reader
from custos.service.console.actors import label, operator_names
from custos.service.ports import Services
from custos.service.recovery.entry_lines import describe_entry
from custos.service.recovery.queries import case_detail


@dataclass(frozen=True, slots=True)
class Act:
    """Someone's part in the case: who, when, and the reason they gave."""

    who: str
    at: str | None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    time: str
    who: str
    actor: str
    type: str
    outcome: str
    what: str


@dataclass(frozen=True, slots=True)
class CaseTimeline:
    detail: dict[str, Any]
    requested: Act
    approved: list[Act]
    executed: Act | None
    validated: Act | None
    #: Who stopped the case (denied, cancelled; Custos for an expiry or a block).
    stopped: Act | None
    entries: list[Entry]


#: States that end a case without a recovery.
STOPPED = frozenset({"denied", "cancelled", "expired", "blocked"})


def case_timeline(svc: Services, operator: Operator, case_id: str) -> CaseTimeline:
    """The case's timeline. Raises NotAuthorized unless ``operator`` reads the
    ledger (auditor, admin); NotFound for an unknown case or one outside the
    operator's scope (alike, so scope does not tell which cases exist)."""
    require_ledger_reader(operator)
    detail = case_detail(svc, operator, case_id)
    with svc.uow() as uow:
        names = operator_names(uow)
    subject = detail["subject"]

    def who(actor: str | None) -> str:
        return label(actor, names, subject_id=subject["id"], subject_name=subject["display_name"])

    timeline = detail["timeline"]
    opened = next((e for e in timeline if e["type"] == "case:case:opened"), None)
    stop = next(
        (
            e
            for e in reversed(timeline)
            if e["type"] == "case:case:state_changed" and e["data"].get("to") in STOPPED
        ),
        None,
    )
    return CaseTimeline(
        detail=detail,
        requested=Act(
            who(detail["requested_by"]), opened["time"] if opened else detail["opened_at"]
        ),
        approved=[
            Act(who(f"operator:{a['operator']}"), a["at"], a["reason"]) for a in detail["approvals"]
        ],
        executed=Act(who(detail["executed_by"]), detail["executed_at"])
        if detail["executed_by"]
        else None,
        validated=Act(who(detail["validated_by"]), detail["validated_at"])
        if detail["validated_by"]
        else None,
        stopped=Act(who(stop["actor"]), stop["time"], stop["reason"]) if stop else None,
        entries=[
            Entry(
                seq=e["seq"],
                time=e["time"],
                who=who(e["actor"]),
                actor=e["actor"],
                type=e["type"],
                outcome=e["outcome"],
                what=describe_entry(e),
            )
            for e in timeline
        ],
    )
