"""One-time console links for operators (docs/console.md#signing-in):
``/console/sign-in/link#token=col_...``. The token travels in the URL fragment
(never sent to a server nor kept in logs) and is posted by a click from the
page; only its SHA-256 is stored; it works once, until it expires, and never for
a disabled operator.

* An **enrolment link** (an admin adding an operator, or after a second-factor
  reset) leads to choosing a password, then enrolling a second factor (24 hours).
* A **demo link** is a complete sign-in; only ``custos demo`` issues them
  (``service/console/demo_sign_in.py``), 30 minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from custos.credentials.tokens import issue_token, looks_like_token, token_digest
from custos.domain.errors import TokenInvalid
from custos.domain.events import EventType, utc
from custos.domain.model import Operator
from custos.domain.operator_accounts import (
    DEMO_LINK_TTL,
    ENROLMENT_LINK_TTL,
    LinkPurpose,
    SignInStage,
)
from custos.service.console import operator_sign_in
from custos.service.console.operator_ledger import record
from custos.service.console.operator_sign_in import Started
from custos.service.ports import Services
from custos.store.unit_of_work import UnitOfWork

LINK_PREFIX = "col"
LINK_PATH = "/console/sign-in/link"
LINK_INVALID = (
    "this sign-in link is not valid: it was already used, it expired, or the account "
    "is disabled; ask an admin for a new one"
)
TTL = {LinkPurpose.ENROL: ENROLMENT_LINK_TTL, LinkPurpose.DEMO: DEMO_LINK_TTL}


@dataclass(frozen=True, slots=True)
class Redeemed:
    """A complete sign-in (``operator`` set, a demo link) or a sign-in waiting for
    its next step (``started``, an enrolment link)."""

    operator: Operator | None = None
    started: Started | None = None


def link_url(svc: Services, token: str) -> str:
    return f"{svc.settings.public_origin.rstrip('/')}{LINK_PATH}#token={token}"


def issue(
    uow: UnitOfWork, operator: Operator, purpose: LinkPurpose, *, actor: str, now: datetime
) -> str:
    """A new link for ``operator`` in the caller's transaction (older unused ones
    of the same purpose stop working); return its token, the only time it exists
    in clear."""
    token = issue_token(LINK_PREFIX)
    expires_at = now + TTL[purpose]
    uow.operator_credentials.void_links(operator.id, purpose, now=now)
    uow.operator_credentials.add_link(
        token.digest,
        operator_id=operator.id,
        purpose=purpose,
        issued_by=actor,
        now=now,
        expires_at=expires_at,
    )
    record(
        uow,
        EventType.OPERATOR_LINK_ISSUED,
        operator,
        now,
        actor=actor,
        purpose=str(purpose),
        expires_at=utc(expires_at),
    )
    return token.plain


def redeem(svc: Services, token: str) -> Redeemed:
    """Use the link up. Raises TokenInvalid (one message for a malformed, unknown,
    used or expired link, or a disabled operator)."""
    if not looks_like_token(token, prefix=LINK_PREFIX):
        raise TokenInvalid(LINK_INVALID)
    now = svc.clock.now()
    with svc.uow() as uow:
        link = uow.operator_credentials.use_link(token_digest(token), now=now)
        operator = None if link is None else uow.operators.get(link.operator_id)
        if link is None or operator is None or not operator.active:
            uow.commit()
            raise TokenInvalid(LINK_INVALID)
        if link.purpose == LinkPurpose.DEMO:
            uow.commit()
            return Redeemed(operator=operator)
        started = operator_sign_in.start(
            uow, operator, SignInStage.NEW_PASSWORD, method="enrolment_link", now=now
        )
        uow.commit()
    return Redeemed(started=Started(started, SignInStage.NEW_PASSWORD))
