"""Request and response bodies. Every request body derives from
:class:`RequestBody` and so forbids unknown fields: a typo, or a field some other
endpoint takes (a password sent to the wrong place), fails loudly with 422
``invalid_input`` instead of being dropped."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from custos.domain.instants import RANGE, within_range
from custos.domain.model import Channel

#: Bounds of integer path and query parameters: the columns they are compared
#: with end there (a larger value fails in the driver, not as a clean 422).
#: Row ids are INTEGER columns (32 bits on PostgreSQL); ledger positions BIGINT.
MAX_ROW_ID = 2**31 - 1
MAX_LEDGER_SIZE = 2**63 - 1


class RequestBody(BaseModel):
    """The base of every request body: unknown fields are refused, and so is a NUL
    character in a text field (PostgreSQL cannot store one: it would be a 500).
    A time is taken in UTC, between 1970 and 9000 (custos.domain.instants:
    ``9999-12-31T23:59-14:00`` lies past what a datetime holds in UTC: it was
    a 500)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _checked(cls, value: object) -> object:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain a NUL character")
        if isinstance(value, datetime) and value.tzinfo is not None:
            utc = within_range(value)
            if utc is None:
                raise ValueError(f"must lie {RANGE}")
            return utc
        return value


class OpenCase(RequestBody):
    subject: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=2000)
    channel: Channel = Channel.HELPDESK
    #: A shared account: the owner the caller is (docs/shared-accounts.md).
    on_behalf_of: str | None = Field(default=None, min_length=1, max_length=200)


class Decision(RequestBody):
    reason: str = Field(min_length=1, max_length=2000)


class BreakGlassIn(RequestBody):
    """Break-glass on a blocked case (docs/exceptions.md): the active
    ``break_glass`` exception to use and the documented reason."""

    exception: str = Field(min_length=1, max_length=80)
    reason: str = Field(min_length=1, max_length=2000)


class ProofIn(RequestBody):
    method: str = Field(min_length=1, max_length=50)
    # A re-proofing result (a signed JWT) is far longer than any code.
    code: str = Field(min_length=1, max_length=16384)


class RetryIn(RequestBody):
    target: str | None = Field(default=None, max_length=100)


class StartRecovery(RequestBody):
    identifier: str = Field(min_length=1, max_length=254)


class RedeemIn(RequestBody):
    token: str = Field(min_length=1, max_length=200)
    new_password: str | None = Field(default=None, max_length=1024)


class Accepted(BaseModel):
    status: str
    message: str


class FlowStarted(Accepted):
    flow: str
    #: Methods any self-service tier accepts, answered on the page: the same list
    #: for every identifier (R-19; service/recovery/offered_methods.py).
    methods: list[str]


class SelfServiceProofOut(BaseModel):
    status: str
    replacement_recovery_code: str | None = None
    #: With ``more_proof_required``: the methods that can still count for this
    #: case, among those the subject has. Empty otherwise.
    methods: list[str] = []


class RedeemOut(BaseModel):
    status: str
    case: str
    temporary_password: str | None = None
    #: Reads which systems were updated: ``POST /api/v1/self-service/reset/progress``.
    progress: str


class ResetCheckIn(RequestBody):
    token: str = Field(min_length=1, max_length=200)
    new_password: str | None = Field(default=None, max_length=1024)


class PasswordVerdictOut(BaseModel):
    acceptable: bool
    #: The rules the candidate fails, as fixed texts (never the password).
    reasons: list[str]
    #: zxcvbn's guessability score, 0 (guessed at once) to 4.
    score: int


class ResetCheckOut(BaseModel):
    #: ``reset_token``: choose a password; ``temp_password``: Custos makes one.
    action: str
    min_length: int
    max_length: int
    expires_at: datetime
    verdict: PasswordVerdictOut | None = None


class ProgressIn(RequestBody):
    ticket: str = Field(min_length=1, max_length=200)


class SystemProgressOut(BaseModel):
    system: str
    account: str
    #: ``pending``, ``succeeded``, ``retryable_failure`` or ``failed``.
    state: str
    updated_at: datetime


class ProgressOut(BaseModel):
    case: str
    state: str
    finished: bool
    systems: list[SystemProgressOut]


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


class OwnerLinkIn(RequestBody):
    """One owner's link to a shared account's new credential."""

    token: str = Field(min_length=1, max_length=200)


class OwnerLinkOut(BaseModel):
    status: str
    case: str
    account: str
    #: The shared account's new password, shown to this owner this once.
    password: str
    must_change: bool
    #: This link was the first opened: the recovery started with it.
    first: bool
