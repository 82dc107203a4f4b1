"""Holds (docs/holds.md): set one on a subject or a group, list them, read one,
lift one. Who may set and lift comes from the policy's ``holds`` section; the
person who set a hold never lifts it (``hold_lift_by_setter``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime, BaseModel, Field

from custos.api.auth import OperatorDep, ServicesDep
from custos.api.schemas import RequestBody
from custos.service.holds import commands, queries
from custos.service.holds.queries import HoldView

router = APIRouter(prefix="/api/v1/holds", tags=["holds"])

HoldId = Annotated[str, Path(min_length=1, max_length=64)]


class SetHoldIn(RequestBody):
    """A hold on ``subject`` or on ``group`` (exactly one of the two)."""

    kind: str = Field(
        min_length=1,
        max_length=40,
        description="`legal_hold`, `incident_freeze`, `fraud`, or a kind the policy adds.",
    )
    subject: str | None = Field(default=None, min_length=1, max_length=200)
    group: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Every subject in this group is held, members who join later too.",
    )
    reason: str = Field(min_length=1, max_length=2000)
    ticket: str = Field(min_length=1, max_length=100, description="The ticket it answers.")
    ends_at: AwareDatetime | None = Field(
        default=None, description="When the hold ends by itself; none: until lifted."
    )


class LiftHoldIn(RequestBody):
    reason: str = Field(min_length=1, max_length=2000)


class HoldOut(BaseModel):
    id: str
    kind: str
    subject: str | None
    group: str | None
    reason: str
    ticket: str | None
    #: ``standing``, ``lifted`` or ``expired``.
    status: str
    #: The actor (``operator:<id>``, ``subject:<id>``, ``system:...``) and their name.
    set_by: str
    set_by_name: str
    set_at: datetime
    ends_at: datetime | None
    lifted_by: str | None
    lifted_by_name: str | None
    lifted_at: datetime | None
    lift_reason: str | None
    expired_at: datetime | None
    #: Cases this call moved to ``blocked`` (set) or back where they stood (lift).
    cases_blocked: list[str] = []
    cases_released: list[str] = []


class HoldList(BaseModel):
    holds: list[HoldOut]


def _out(view: HoldView, change: commands.HoldChange | None = None) -> HoldOut:
    h = view.hold
    return HoldOut(
        id=h.id,
        kind=h.kind,
        subject=h.subject_id,
        group=h.group,
        reason=h.reason,
        ticket=h.ticket,
        status=str(view.status),
        set_by=h.set_by,
        set_by_name=view.set_by,
        set_at=h.set_at,
        ends_at=h.ends_at,
        lifted_by=h.lifted_by,
        lifted_by_name=view.lifted_by,
        lifted_at=h.lifted_at,
        lift_reason=h.lift_reason,
        expired_at=h.expired_at,
        cases_blocked=list(change.cases_blocked) if change else [],
        cases_released=list(change.cases_released) if change else [],
    )


@router.post("", status_code=201, response_model=HoldOut)
def set_hold(body: SetHoldIn, svc: ServicesDep, operator: OperatorDep) -> HoldOut:
    """Set a hold: recovery of the subject (or of every member of the group) is
    refused with `recovery_blocked` until it is lifted or ends, and open cases
    wait in `blocked`."""
    change = commands.set_hold(
        svc,
        operator,
        kind=body.kind,
        subject_id=body.subject,
        group=body.group,
        reason=body.reason,
        ticket=body.ticket,
        ends_at=body.ends_at,
    )
    return _out(queries.hold_view(svc, operator, change.hold.id), change)


@router.get("", response_model=HoldList)
def list_holds(
    svc: ServicesDep,
    operator: OperatorDep,
    subject: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    group: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    status: Annotated[
        str, Query(max_length=20, description="`standing` (default), `lifted`, `expired`, `all`.")
    ] = "standing",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> HoldList:
    """Holds in the operator's scope, newest first. `subject`: the holds on the
    subject and on its groups; `group`: those on the group."""
    views = queries.list_holds(
        svc,
        operator,
        subject_id=subject,
        group=group,
        status=queries.parse_status(status),
        limit=limit,
    )
    return HoldList(holds=[_out(v) for v in views])


@router.get("/{hold_id}", response_model=HoldOut)
def show_hold(hold_id: HoldId, svc: ServicesDep, operator: OperatorDep) -> HoldOut:
    return _out(queries.hold_view(svc, operator, hold_id))


@router.post("/{hold_id}/lift", response_model=HoldOut)
def lift_hold(
    hold_id: HoldId, body: LiftHoldIn, svc: ServicesDep, operator: OperatorDep
) -> HoldOut:
    """Lift a standing hold: the policy's lifting role (by default a security
    approver), never the person who set it (`hold_lift_by_setter`). Cases it
    blocked go back where they stood once no other hold stands on their subject."""
    change = commands.lift_hold(svc, operator, hold_id, reason=body.reason)
    return _out(queries.hold_view(svc, operator, change.hold.id), change)
