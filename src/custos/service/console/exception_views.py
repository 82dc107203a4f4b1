"""Exceptions on the console's pages (docs/console.md#exceptions): the list
with, for each exception, whether this operator may approve or revoke it and
if not why, in plain words; one exception with the cases that used it. The
rules are ``domain/exceptions.py``'s and the commands'; the commands check
them again when they run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from custos.domain.errors import DomainError, NotAuthorized
from custos.domain.exceptions import ExceptionRecord, ExceptionStatus, Relaxation
from custos.domain.model import Operator, Role
from custos.service.console.actors import label, operator_names
from custos.service.console.wording import as_sentence, rule_words
from custos.service.exceptions import queries
from custos.service.exceptions.queries import ExceptionView
from custos.service.ports import Services

#: Why an operator may not approve an exception, by the rule the domain names.
RULES = {
    "requester": "You requested this exception: two other people must approve it.",
    "already_approved": "You already approved this exception; a second, different person "
    "must approve it. One person counts once, whatever accounts or roles they have.",
}
#: What each relaxation does, as the page says it.
RELAXATION_WORDS = {
    Relaxation.APPROVALS: "fewer approvals",
    Relaxation.METHOD: "an extra proofing method",
    Relaxation.BREAK_GLASS: "break-glass",
}


def in_words(exc: DomainError) -> str:
    """A refusal of an exception command as the console says it."""
    words = rule_words(exc, RULES)
    if words is not None:
        return words
    if isinstance(exc, NotAuthorized) and exc.details.get("role"):
        return f"This needs the {exc.details['role']} role, which you do not hold."
    return as_sentence(exc)


@dataclass(frozen=True, slots=True)
class ExceptionLine:
    id: str
    status: str
    covers: str
    relaxes: str
    reason: str
    #: None only on exceptions recorded before they carried a ticket.
    ticket: str | None
    requested_by: str
    approvers: list[str]
    starts_at: datetime
    ends_at: datetime
    revoked_by: str | None
    revoked_at: datetime | None
    #: Why this operator cannot approve it; None: the approve form is shown.
    cannot_approve: str | None
    #: Why this operator cannot revoke it; None: the revoke form is shown.
    cannot_revoke: str | None


@dataclass(frozen=True, slots=True)
class ExceptionsPage:
    lines: list[ExceptionLine]
    status: str
    statuses: list[str]
    relaxations: list[str]
    tiers: list[str]
    max_hours: int
    #: Why this operator cannot request one; None: the request form is shown.
    cannot_request: str | None


@dataclass(frozen=True, slots=True)
class CaseUse:
    case_id: str
    subject_id: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class ExceptionDetail:
    line: ExceptionLine
    uses: list[CaseUse]
    #: Uses on cases outside this operator's scope (counted, not shown).
    hidden_uses: int


def covers(record: ExceptionRecord) -> str:
    if record.subject_ids:
        return "subjects " + ", ".join(record.subject_ids)
    if record.group is not None:
        return f"group '{record.group}'"
    return f"tier '{record.tier}'"


def relaxes(record: ExceptionRecord) -> str:
    words = RELAXATION_WORDS.get(record.relaxation, str(record.relaxation))
    if record.relaxation == Relaxation.APPROVALS:
        return f"{words}: {record.value}"
    if record.relaxation == Relaxation.METHOD:
        return f"{words}: {record.value}"
    return words


def _cannot_approve(operator: Operator, view: ExceptionView) -> str | None:
    record = view.record
    if view.status in (ExceptionStatus.EXPIRED, ExceptionStatus.REVOKED):
        return f"This exception is {view.status}: nothing to approve."
    if view.status == ExceptionStatus.ACTIVE:
        return "Two people approved it: it is active."
    if not operator.has_role(Role.APPROVER):
        return "Approving needs the approver role."
    if operator.person == record.requester_person:
        return RULES["requester"]
    if operator.person in record.approvers():
        return RULES["already_approved"]
    return None


def _cannot_revoke(operator: Operator, view: ExceptionView) -> str | None:
    if view.status in (ExceptionStatus.EXPIRED, ExceptionStatus.REVOKED):
        return f"This exception is {view.status}: nothing to revoke."
    if operator.person != view.record.requester_person and not operator.has_role(Role.APPROVER):
        return "Revoking needs the approver role, or being its requester."
    return None


def _names(svc: Services) -> dict[str, str]:
    with svc.uow(read_only=True) as uow:
        return operator_names(uow)


def line(operator: Operator, view: ExceptionView, names: dict[str, str]) -> ExceptionLine:
    r = view.record
    return ExceptionLine(
        id=r.id,
        status=str(view.status),
        covers=covers(r),
        relaxes=relaxes(r),
        reason=r.reason,
        ticket=r.ticket,
        requested_by=label(r.requested_by, names),
        approvers=sorted(r.approvers()),
        starts_at=r.starts_at,
        ends_at=r.ends_at,
        revoked_by=label(r.revoked_by, names) if r.revoked_by else None,
        revoked_at=r.revoked_at,
        cannot_approve=_cannot_approve(operator, view),
        cannot_revoke=_cannot_revoke(operator, view),
    )


def exceptions_page(svc: Services, operator: Operator, *, status: str) -> ExceptionsPage:
    """The exceptions in the operator's scope, in ``status`` (``all``: every
    one). Raises InvalidInput (an unknown status)."""
    views = queries.list_exceptions(svc, operator, status=queries.parse_status(status))
    names = _names(svc)
    document = svc.policy.document
    return ExceptionsPage(
        lines=[line(operator, v, names) for v in views],
        status=status or "all",
        statuses=["all"] + [str(s) for s in ExceptionStatus],
        relaxations=[str(r) for r in Relaxation],
        tiers=[t.name for t in document.tiers],
        max_hours=int(document.exceptions.max_duration.total_seconds() // 3600),
        cannot_request=None
        if operator.has_role(Role.REQUESTER)
        else "Requesting an exception needs the requester role.",
    )


def _uses(svc: Services, operator: Operator, record: ExceptionRecord) -> tuple[list[CaseUse], int]:
    """The cases that used ``record`` (``governance:exception:used``), those
    in the operator's scope and how many others."""
    with svc.uow(read_only=True) as uow:
        entries: list[dict[str, Any]] = [
            e
            for e in uow.ledger.of_types(["governance:exception:used"], since=record.starts_at)
            if isinstance(e.get("data"), dict) and e["data"].get("exception") == record.id
        ]
        subjects = uow.subjects.get_many({str(e["subject"]) for e in entries if e["subject"]})
    shown: list[CaseUse] = []
    hidden = 0
    for e in entries:
        subject = subjects.get(str(e["subject"]))
        if subject is None or not operator.covers(subject):
            hidden += 1
            continue
        shown.append(CaseUse(str(e["case"]), subject.id, e["occurred_at"]))
    return shown, hidden


def exception_detail(svc: Services, operator: Operator, exception_id: str) -> ExceptionDetail:
    """One exception and the cases that used it. Raises NotFound (also for one
    outside the operator's scope)."""
    view = queries.exception_view(svc, operator, exception_id)
    uses, hidden = _uses(svc, operator, view.record)
    return ExceptionDetail(line=line(operator, view, _names(svc)), uses=uses, hidden_uses=hidden)
