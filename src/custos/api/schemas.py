"""Request and response bodies. Bodies forbid unknown fields, so typos fail loudly."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from custos.domain.model import Channel


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpenCase(_Body):
    subject: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=2000)
    channel: Channel = Channel.HELPDESK


class Decision(_Body):
    reason: str = Field(min_length=1, max_length=2000)


class ProofIn(_Body):
    method: str = Field(min_length=1, max_length=50)
    # A re-proofing result (a signed JWT) is far longer than any code.
    code: str = Field(min_length=1, max_length=16384)


class RetryIn(_Body):
    target: str | None = Field(default=None, max_length=100)


class StartRecovery(_Body):
    identifier: str = Field(min_length=1, max_length=254)


class RedeemIn(_Body):
    token: str = Field(min_length=1, max_length=200)
    new_password: str | None = Field(default=None, max_length=1024)


class Accepted(BaseModel):
    status: str
    message: str


class FlowStarted(Accepted):
    flow: str


class SelfServiceProofOut(BaseModel):
    status: str
    replacement_recovery_code: str | None = None


class RedeemOut(BaseModel):
    status: str
    case: str
    temporary_password: str | None = None


class CaseSummary(BaseModel):
    id: str
    state: str
    tier: str
    subject: str
    message: str | None = None


class ProofOut(BaseModel):
    case: str
    state: str
    passed: bool


CaseDetail = dict[str, Any]
