"""The subject's one-time link to a reissue's Temporary Access Pass
(docs/policy.md#temporary_access_pass): the link holder alone gets the pass,
once. No operator route returns it."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from custos.api.auth import ServicesDep
from custos.api.schemas import RequestBody
from custos.service.recovery import tap_links

router = APIRouter(prefix="/api/v1/temporary-access-pass", tags=["recovery"])


class RetrieveIn(RequestBody):
    token: str = Field(min_length=1, max_length=100)


class PassOut(BaseModel):
    case_id: str
    target: str
    account: str
    lifetime_minutes: int
    usable_once: bool
    #: Shown once; the link is spent.
    temporary_access_pass: str


@router.post("", response_model=PassOut)
def retrieve(body: RetrieveIn, svc: ServicesDep) -> PassOut:
    got = tap_links.retrieve(svc, token=body.token)
    return PassOut(
        case_id=got.case_id,
        target=got.target,
        account=got.account_id,
        lifetime_minutes=got.lifetime_minutes,
        usable_once=got.usable_once,
        temporary_access_pass=got.secret,
    )
