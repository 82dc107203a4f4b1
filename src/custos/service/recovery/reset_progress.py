"""The subject's view of a recovery after the new password was accepted: which
connected systems were updated, which are still waiting or failed.

Redemption hands the page a *progress ticket*: ``<case id>.<expiry>.<tag>``, the
tag an HMAC of the rest under its own subkey of the master key. Nothing is
stored for it; the reset token itself is never reused (it is consumed), and the
ticket appears in no message, only in the answer to the page that redeemed. It
reads nothing but the case's state and its receipts (system, account, state),
for ``PROGRESS_TTL``."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from custos.domain.errors import NotFound, TokenInvalid
from custos.domain.states import TERMINAL, CaseState
from custos.service.ports import Services
from custos.service.recovery.redemption import TokenExpired

PROGRESS_TTL: Final = timedelta(hours=24)
MAX_TICKET: Final = 200
_PURPOSE: Final = "custos/reset-progress/v1"
_INVALID: Final = "this progress ticket is not valid; the email you receive tells the outcome"


@dataclass(frozen=True, slots=True)
class SystemProgress:
    system: str
    account: str
    #: ``pending``, ``succeeded``, ``retryable_failure`` or ``failed`` (receipt states).
    state: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Progress:
    case_id: str
    state: str
    #: True once nothing more will happen without an operator: the case completed,
    #: needs attention, or ended otherwise.
    finished: bool
    systems: tuple[SystemProgress, ...]


def issue_ticket(svc: Services, case_id: str, *, now: datetime) -> str:
    """A ticket reading ``case_id``'s progress until ``now + PROGRESS_TTL``."""
    expiry = int((now + PROGRESS_TTL).timestamp())
    body = f"{case_id}.{expiry}"
    return f"{body}.{_tag(svc, body)}"


def progress(svc: Services, ticket: str) -> Progress:
    """The case's progress. Raises TokenInvalid for a ticket that is malformed
    or forged, TokenExpired for one past its time."""
    body, _, tag = ticket.rpartition(".")
    case_id, _, expiry_text = body.rpartition(".")
    if not case_id or not expiry_text.isdigit() or len(ticket) > MAX_TICKET:
        raise TokenInvalid(_INVALID)
    if not hmac.compare_digest(_tag(svc, body).encode(), tag.encode()):
        raise TokenInvalid(_INVALID)
    if datetime.fromtimestamp(int(expiry_text), UTC) <= svc.clock.now():
        raise TokenExpired(
            "this progress ticket has expired; the email you receive tells the outcome"
        )
    with svc.uow(read_only=True) as uow:
        try:
            case = uow.cases.get(case_id, children=False)
        except NotFound as exc:  # a valid tag names a case that exists; never expected
            raise TokenInvalid(_INVALID) from exc
        receipts = uow.receipts.for_case(case_id)
    state = CaseState(case.state)
    return Progress(
        case_id=case_id,
        state=str(state),
        finished=state in TERMINAL or state == CaseState.NEEDS_ATTENTION,
        systems=tuple(
            SystemProgress(
                system=r.target, account=r.account_id, state=str(r.state), updated_at=r.updated_at
            )
            for r in receipts
        ),
    )


def _tag(svc: Services, body: str) -> str:
    return hmac.new(svc.key.subkey(_PURPOSE), body.encode(), hashlib.sha256).hexdigest()
