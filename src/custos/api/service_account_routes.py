"""Service accounts (docs/service-accounts.md). The owner, signed in as
themselves (a subject session), requests a rotation and proves it with their
own factors; the one-time link answers the value once; operators report owner
departures (HR events) and read unowned accounts and interactive use."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from custos.api.auth import OperatorDep, ServicesDep
from custos.api.me_routes import TokenDep
from custos.api.schemas import RequestBody
from custos.service.enrolment import subject_sessions
from custos.service.ports import Services
from custos.service.service_accounts import interactive, issuing, owners, requests

owner_router = APIRouter(prefix="/api/v1/me", tags=["service accounts"])
public_router = APIRouter(prefix="/api/v1/service-secret", tags=["service accounts"])
operator_router = APIRouter(prefix="/api/v1", tags=["service accounts"])

SubjectId = Annotated[str, Path(min_length=1, max_length=200)]
CaseId = Annotated[str, Path(min_length=1, max_length=64)]


class RotationIn(RequestBody):
    reason: str = Field(min_length=1, max_length=2000)


class ProofIn(RequestBody):
    method: str = Field(min_length=1, max_length=40)
    response: str = Field(min_length=1, max_length=4000)


class RetrieveIn(RequestBody):
    token: str = Field(min_length=1, max_length=100)


class DepartIn(RequestBody):
    successor: str = Field(min_length=1, max_length=200)
    reason: str = Field(default="owner departure", max_length=2000)


class RotationOut(BaseModel):
    case_id: str
    state: str


class SecretOut(BaseModel):
    case_id: str
    service_account: str
    #: Shown once; the link is spent.
    secret: str


class TransferOut(BaseModel):
    service_id: str
    case_id: str
    case_state: str


class UnownedOut(BaseModel):
    service_id: str
    display_name: str
    why: str


class UseOut(BaseModel):
    target: str
    account_id: str
    #: ``flagged``, ``no_logon``, ``cannot_report`` or ``unreadable``.
    status: str
    detail: str


def _owner(token: TokenDep, svc: ServicesDep) -> str:
    return subject_sessions.current(svc, token).subject.id


OwnerDep = Annotated[str, Depends(_owner)]


@owner_router.post(
    "/service-accounts/{service_id}/rotations", response_model=RotationOut, status_code=201
)
def request_rotation(
    service_id: SubjectId, body: RotationIn, owner: OwnerDep, svc: ServicesDep
) -> RotationOut:
    case = requests.request_rotation(svc, owner_id=owner, service_id=service_id, reason=body.reason)
    return RotationOut(case_id=case.id, state=str(case.state))


@owner_router.post("/rotations/{case_id}/email-code")
def email_code(case_id: CaseId, owner: OwnerDep, svc: ServicesDep) -> dict[str, bool]:
    return {"sent": requests.send_owner_code(svc, owner_id=owner, case_id=case_id)}


@owner_router.post("/rotations/{case_id}/proof", response_model=RotationOut)
def proof(case_id: CaseId, body: ProofIn, owner: OwnerDep, svc: ServicesDep) -> RotationOut:
    state = requests.prove_owner(
        svc, owner_id=owner, case_id=case_id, method=body.method, response=body.response
    )
    return RotationOut(case_id=case_id, state=str(state))


@public_router.post("", response_model=SecretOut)
def retrieve(body: RetrieveIn, svc: ServicesDep) -> SecretOut:
    got = issuing.retrieve(svc, token=body.token)
    return SecretOut(case_id=got.case_id, service_account=got.service_id, secret=got.secret)


@operator_router.post("/owners/{owner_id}/depart", response_model=list[TransferOut])
def depart(
    owner_id: SubjectId, body: DepartIn, operator: OperatorDep, svc: ServicesDep
) -> list[TransferOut]:
    done = owners.depart(
        svc, operator, owner_id=owner_id, successor_id=body.successor, reason=body.reason
    )
    return [
        TransferOut(service_id=t.service_id, case_id=t.case_id, case_state=t.case_state)
        for t in done
    ]


@operator_router.get("/service-accounts/unowned", response_model=list[UnownedOut])
def unowned(operator: OperatorDep, svc: ServicesDep) -> list[UnownedOut]:
    _auditor(operator, svc)
    return [
        UnownedOut(service_id=u.service_id, display_name=u.display_name, why=u.why)
        for u in owners.unowned(svc, operator)
    ]


@operator_router.post("/service-accounts/{service_id}/interactive-use", response_model=list[UseOut])
def interactive_use(service_id: SubjectId, operator: OperatorDep, svc: ServicesDep) -> list[UseOut]:
    """Read the logons the targets record for the account now; each flag is
    written to the ledger, so this is a POST. An account outside the
    operator's scope answers 404, as an unknown one does."""
    _auditor(operator, svc)
    owners.check_in_scope(svc, operator, service_id)
    reports = interactive.check(svc, service_id=service_id, actor=operator.actor)
    return [
        UseOut(target=r.target, account_id=r.account_id, status=r.status, detail=r.detail)
        for r in reports
    ]


def _auditor(operator: OperatorDep, svc: Services) -> None:
    """Reading service accounts' ownership and logons: auditors and admins."""
    del svc
    owners.check_reader(operator)
