"""What the reset page needs before the subject submits: whether the link still
works, what it will do (choose a password, or receive a temporary one), and the
password rules' verdict on a candidate while the subject types.

The verdict comes from the very rules that decide on redemption
(``credentials.passwords.assess_new_password`` with the subject's own data as
zxcvbn inputs), so the page's feedback and the final answer cannot disagree. A
check changes nothing: the token stays live, nothing is written, no event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from custos.credentials.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    MIN_LENGTH_WITH_MFA,
    PasswordVerdict,
    assess_new_password,
)
from custos.credentials.tokens import looks_like_token, token_digest
from custos.domain.errors import TokenInvalid
from custos.domain.states import CaseState
from custos.service.ports import Services
from custos.service.recovery.credentials import password_inputs
from custos.service.recovery.redemption import TokenExpired


@dataclass(frozen=True, slots=True)
class ResetRules:
    #: ``reset_token``: the subject chooses a password; ``temp_password``: one is made.
    action: str
    min_length: int
    max_length: int
    expires_at: datetime
    #: The rules' verdict on the candidate; None when no candidate was given.
    verdict: PasswordVerdict | None


def check(svc: Services, *, token: str, candidate: str | None) -> ResetRules:
    """The rules behind a live reset token and their verdict on ``candidate``.
    Raises TokenInvalid (unknown, used, replaced) or TokenExpired, with the same
    messages as redemption."""
    if not looks_like_token(token):
        raise TokenInvalid("this link is not valid; ask for a new recovery")
    now = svc.clock.now()
    with svc.uow(read_only=True) as uow:
        stored = uow.tokens.by_digest(token_digest(token))
        if stored is None:
            raise TokenInvalid("this link is not valid; ask for a new recovery")
        if stored.consumed_at is not None or stored.voided_at is not None:
            raise TokenInvalid("this link was already used or replaced; ask for a new recovery")
        if stored.expires_at <= now:
            raise TokenExpired("this link has expired; ask for a new recovery")
        case = uow.cases.get(stored.case_id, children=False)
        subject = uow.subjects.get(case.subject_id)
    if case.state != CaseState.CREDENTIAL_ISSUED or subject is None:
        raise TokenInvalid("this link was already used or replaced; ask for a new recovery")
    verdict = (
        assess_new_password(
            candidate, mfa_bound=subject.mfa_bound, user_inputs=password_inputs(subject)
        )
        if candidate
        else None
    )
    return ResetRules(
        action=str(case.requirements.action),
        min_length=MIN_LENGTH_WITH_MFA if subject.mfa_bound else MIN_LENGTH,
        max_length=MAX_LENGTH,
        expires_at=stored.expires_at,
        verdict=verdict,
    )
