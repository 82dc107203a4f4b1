"""The subject's one-time link to a reissue's Temporary Access Pass
(docs/policy.md#temporary_access_pass; the portal page /temporary-access-pass).
Only the link's SHA-256 digest is stored; opening it shows the pass exactly
once and wipes the sealed copy; every refusal is recorded. No operator API
returns the pass: it exists in clear only in this answer to the link holder."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from custos.credentials import seal_contexts
from custos.credentials.tokens import looks_like_token, token_digest
from custos.domain.errors import TokenInvalid
from custos.domain.events import DomainEvent, EventType, Outcome
from custos.domain.model import subject_actor
from custos.service.ports import Services
from custos.service.recovery.tap_issue import LINK_PREFIX
from custos.store.tap_repository import IssuedPass, TapRepository
from custos.store.unit_of_work import UnitOfWork


class TapLinkInvalid(TokenInvalid):
    """The link is unknown, already used, lapsed, or its pass was deleted."""

    error_id = "tap_link_invalid"


@dataclass(frozen=True, slots=True)
class RetrievedPass:
    case_id: str
    target: str
    account_id: str
    lifetime_minutes: int
    usable_once: bool
    #: Shown once, to the subject holding the link; never stored in clear or logged.
    secret: str = field(repr=False)


def retrieve(svc: Services, *, token: str) -> RetrievedPass:
    """Open the link: the pass, exactly once, while the link lives. Raises TapLinkInvalid."""
    if not looks_like_token(token, prefix=LINK_PREFIX):
        raise TapLinkInvalid("this link is not valid")
    now = svc.clock.now()
    with svc.uow() as uow:
        repo = TapRepository(uow.conn)
        record = repo.by_digest(token_digest(token))
        if record is None:
            raise TapLinkInvalid("this link is not valid")
        refusal = None
        if record.retrieved_at is not None:
            refusal = "already used"
        elif record.deleted_at is not None:
            refusal = "withdrawn"
        elif record.blob is None or record.link_expires_at <= now:
            refusal = "lapsed"
        if refusal is None and not repo.take(record.id, now=now):
            refusal = "already used"
        if refusal is not None or record.blob is None:
            _event(uow, record, now, refusal or "lapsed")
            uow.commit()
            raise TapLinkInvalid(
                f"this link was {refusal or 'lapsed'}; ask the help desk for a new reissue"
            )
        secret = svc.sealer.unseal(
            record.blob, aad=seal_contexts.temporary_access_pass(record.case_id, record.id)
        )
        _event(uow, record, now, None)
        uow.commit()
    return RetrievedPass(
        case_id=record.case_id,
        target=record.target,
        account_id=record.account_id,
        lifetime_minutes=record.lifetime_minutes,
        usable_once=record.usable_once,
        secret=secret,
    )


def _event(uow: UnitOfWork, record: IssuedPass, now: datetime, refusal: str | None) -> None:
    uow.ledger.append(
        [
            DomainEvent(
                type=EventType.TAP_RETRIEVED
                if refusal is None
                else EventType.TAP_RETRIEVAL_REFUSED,
                occurred_at=now,
                actor=subject_actor(record.subject_id),
                subject_id=record.subject_id,
                case_id=record.case_id,
                outcome=Outcome.SUCCESS if refusal is None else Outcome.DENIED,
                reason=refusal or "",
                data={"target": record.target},
            )
        ]
    )
