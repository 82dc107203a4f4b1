"""Operator oversight for auditors (docs/oversight.md): the open anomaly
alerts, each with the ledger entries (seq, id) that show it. Admin and
auditor roles only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from custos.api.auth import OperatorDep, ServicesDep
from custos.service.oversight import anomalies

router = APIRouter(prefix="/api/v1/oversight", tags=["oversight"])


class EvidenceOut(BaseModel):
    seq: int = Field(
        description="The ledger entry's position (`GET /api/v1/ledger/entries/{seq}`)."
    )
    id: str


class AlertOut(BaseModel):
    id: str
    operator: str = Field(description="The operator's name.")
    signal: str = Field(
        description="`volume`, `privileged_share`, `off_hours`, `fast_approval`, "
        "`same_pair`, `approval_streak`, `proofing_failures` or `unusual_groups`."
    )
    summary: str
    measured: dict[str, Any] = Field(description="What was measured against the threshold.")
    evidence: list[EvidenceOut]
    state: str
    raised_at: datetime


class AlertList(BaseModel):
    alerts: list[AlertOut]


@router.get("/alerts", response_model=AlertList)
def list_alerts(
    svc: ServicesDep,
    reader: OperatorDep,
    operator: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Only this operator's.")
    ] = None,
) -> AlertList:
    """Open operator anomaly alerts, oldest first (admin and auditor roles)."""
    found = anomalies.alerts_for_reader(svc, reader, operator=operator)
    return AlertList(
        alerts=[
            AlertOut(
                id=a.id,
                operator=a.operator,
                signal=a.signal,
                summary=a.summary,
                measured=a.measured,
                evidence=[EvidenceOut(seq=int(e["seq"]), id=str(e["id"])) for e in a.entries],
                state=a.state,
                raised_at=a.raised_at,
            )
            for a in found
        ]
    )
