"""Exceptions (docs/exceptions.md): request one, approve it (two people,
neither the requester), revoke it, list them and read one. An exception is a
record in a registry, never an edit of the policy."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime, BaseModel, Field

from custos.api.auth import OperatorDep, ServicesDep
from custos.api.schemas import RequestBody
from custos.service.exceptions import commands, queries
from custos.service.exceptions.queries import ExceptionView

router = APIRouter(prefix="/api/v1/exceptions", tags=["exceptions"])

ExceptionId = Annotated[str, Path(min_length=1, max_length=64)]


class RequestExceptionIn(RequestBody):
    """An exception for ``subjects``, one ``group`` or one ``tier`` (exactly one)."""

    reason: str = Field(min_length=1, max_length=2000)
    ticket: str = Field(
        min_length=1,
        max_length=100,
        description="The change or incident ticket it answers (letters, digits, `.:_#/-`).",
    )
    relaxation: str = Field(
        min_length=1, max_length=20, description="`approvals`, `method` or `break_glass`."
    )
    value: str = Field(
        default="",
        max_length=200,
        description=(
            "The approvals count it allows, or the method; for break-glass, empty or "
            "the tier to recover under when the policy itself blocks the subject."
        ),
    )
    subjects: list[str] = Field(default=[], max_length=200)
    group: str | None = Field(default=None, min_length=1, max_length=200)
    tier: str | None = Field(default=None, min_length=1, max_length=100)
    starts_at: AwareDatetime | None = Field(default=None, description="Default: now.")
    ends_at: AwareDatetime | None = Field(
        default=None,
        description="Required; at most the policy's `exceptions.max_duration` after the start.",
    )


class RevokeExceptionIn(RequestBody):
    reason: str = Field(min_length=1, max_length=2000)


class ApprovalOut(BaseModel):
    actor: str
    person: str
    at: datetime


class ExceptionOut(BaseModel):
    id: str
    #: ``pending``, ``active``, ``expired`` or ``revoked``.
    status: str
    requested_by: str
    requester_person: str
    reason: str
    #: None only for exceptions recorded before they carried a ticket.
    ticket: str | None
    relaxation: str
    value: str
    subjects: list[str]
    group: str | None
    tier: str | None
    starts_at: datetime
    ends_at: datetime
    approvals: list[ApprovalOut]
    revoked_by: str | None
    revoked_at: datetime | None
    expired_at: datetime | None


class ExceptionList(BaseModel):
    exceptions: list[ExceptionOut]


def _out(view: ExceptionView) -> ExceptionOut:
    r = view.record
    return ExceptionOut(
        id=r.id,
        status=str(view.status),
        requested_by=r.requested_by,
        requester_person=r.requester_person,
        reason=r.reason,
        ticket=r.ticket,
        relaxation=str(r.relaxation),
        value=r.value,
        subjects=list(r.subject_ids),
        group=r.group,
        tier=r.tier,
        starts_at=r.starts_at,
        ends_at=r.ends_at,
        approvals=[ApprovalOut(actor=a.actor, person=a.person, at=a.at) for a in r.approvals],
        revoked_by=r.revoked_by,
        revoked_at=r.revoked_at,
        expired_at=r.expired_at,
    )


@router.post("", status_code=201, response_model=ExceptionOut)
def request_exception(
    body: RequestExceptionIn, svc: ServicesDep, operator: OperatorDep
) -> ExceptionOut:
    """Request an exception; it stays `pending` until two people other than
    the requester approve it."""
    record = commands.request_exception(
        svc,
        operator,
        reason=body.reason,
        ticket=body.ticket,
        relaxation=commands.parse_relaxation(body.relaxation),
        value=body.value,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        subject_ids=tuple(body.subjects),
        group=body.group,
        tier=body.tier,
    )
    return _out(queries.exception_view(svc, operator, record.id))


@router.get("", response_model=ExceptionList)
def list_exceptions(
    svc: ServicesDep,
    operator: OperatorDep,
    status: Annotated[
        str,
        Query(max_length=20, description="`pending`, `active`, `expired`, `revoked`, `all`."),
    ] = "all",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> ExceptionList:
    """Exceptions in the operator's scope, newest first."""
    views = queries.list_exceptions(svc, operator, status=queries.parse_status(status), limit=limit)
    return ExceptionList(exceptions=[_out(v) for v in views])


@router.get("/{exception_id}", response_model=ExceptionOut)
def show_exception(
    exception_id: ExceptionId, svc: ServicesDep, operator: OperatorDep
) -> ExceptionOut:
    return _out(queries.exception_view(svc, operator, exception_id))


@router.post("/{exception_id}/approve", response_model=ExceptionOut)
def approve_exception(
    exception_id: ExceptionId, svc: ServicesDep, operator: OperatorDep
) -> ExceptionOut:
    """Approve: never the requester, never twice by one person
    (`exception_approval_refused`); an expired or revoked one answers
    `exception_not_active`."""
    record = commands.approve_exception(svc, operator, exception_id)
    return _out(queries.exception_view(svc, operator, record.id))


@router.post("/{exception_id}/revoke", response_model=ExceptionOut)
def revoke_exception(
    exception_id: ExceptionId, body: RevokeExceptionIn, svc: ServicesDep, operator: OperatorDep
) -> ExceptionOut:
    """Revoke a pending or active exception: an approver, or its requester."""
    record = commands.revoke_exception(svc, operator, exception_id, reason=body.reason)
    return _out(queries.exception_view(svc, operator, record.id))
