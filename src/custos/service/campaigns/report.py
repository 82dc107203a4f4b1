"""The closing report of a campaign: for every member subject, its case and,
for every system it has an account in, what happened there (the receipt: its
state, attempts and the directory's own answer). JSON for machines, HTML for
people; both from the same data. Nothing secret is in either."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape

from custos.domain import sod
from custos.domain.events import utc
from custos.domain.model import Operator, Role
from custos.service.campaigns.queries import in_scope
from custos.service.ports import Services


@dataclass(frozen=True, slots=True)
class SystemResult:
    target: str
    account: str
    state: str
    attempts: int
    answer: str


@dataclass(frozen=True, slots=True)
class SubjectResult:
    subject: str
    member: str  # pending, opened, skipped
    case: str | None
    case_state: str | None
    systems: tuple[SystemResult, ...]


def campaign_report(svc: Services, operator: Operator, campaign_id: str) -> dict[str, Any]:
    """The report as plain JSON-ready data. Raises NotFound, NotAuthorized
    (auditors, requesters and approvers read it); NotFound for a campaign
    outside the operator's scope."""
    if not (operator.has_role(Role.AUDITOR) or operator.has_role(Role.APPROVER)):
        sod.check_role(operator, Role.REQUESTER)
    with svc.uow(read_only=True) as uow:
        campaign = in_scope(operator, uow.campaigns.get(campaign_id))
        members = uow.campaigns.members(campaign_id)
        states = uow.campaigns.case_states(campaign_id)
        receipts = uow.receipts.for_cases([c for _, _, c in members if c is not None])
    subjects = [
        SubjectResult(
            subject=subject_id,
            member=member,
            case=case_id,
            case_state=states.get(subject_id),
            systems=tuple(
                SystemResult(r.target, r.account_id, str(r.state), r.attempts, r.answer or "")
                for r in receipts.get(case_id or "", [])
            ),
        )
        for subject_id, member, case_id in members
    ]
    by_system: dict[str, dict[str, int]] = {}
    for item in subjects:
        for system in item.systems:
            counts = by_system.setdefault(system.target, {})
            counts[system.state] = counts.get(system.state, 0) + 1
    by_case: dict[str, int] = {}
    for item in subjects:
        key = item.case_state or item.member
        by_case[key] = by_case.get(key, 0) + 1
    return {
        "campaign": {
            "id": campaign.id,
            "group": campaign.group,
            "action": str(campaign.action),
            "reason": campaign.reason,
            "ticket": campaign.ticket,
            "state": str(campaign.state),
            "started_by": campaign.started_by,
            "started_at": utc(campaign.started_at),
            "finished_at": None if campaign.finished_at is None else utc(campaign.finished_at),
            "approvals": [
                {"operator": a.operator_id, "person": a.person, "at": utc(a.at), "reason": a.reason}
                for a in campaign.approvals
            ],
        },
        "totals": {
            "subjects": len(subjects),
            "cases": dict(sorted(by_case.items())),
            "systems": {t: dict(sorted(c.items())) for t, c in sorted(by_system.items())},
        },
        "subjects": [
            {
                "subject": s.subject,
                "member": s.member,
                "case": s.case,
                "case_state": s.case_state,
                "systems": [
                    {
                        "target": r.target,
                        "account": r.account,
                        "state": r.state,
                        "attempts": r.attempts,
                        "answer": r.answer,
                    }
                    for r in s.systems
                ],
            }
            for s in subjects
        ],
    }


#: The page's template, beside the compliance report's.
TEMPLATE = Path(__file__).resolve().parents[2] / "reports" / "templates" / "campaign.html.j2"


def render_html(report: dict[str, Any]) -> str:
    """The report as one self-contained HTML page (every value escaped)."""
    env = Environment(autoescape=select_autoescape(default_for_string=True))
    template = env.from_string(TEMPLATE.read_text(encoding="utf-8"))
    return template.render(c=report["campaign"], t=report["totals"], subjects=report["subjects"])
