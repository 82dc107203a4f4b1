"""Shared accounts (docs/shared-accounts.md): only an owner asks, every owner is
told, and the new credential reaches every owner through their own link.

* **Who may ask.** A shared account's case opens only for one of its owners
  (``Subject.owners``, filled from the directories' ``owner``/``seeAlso``):
  an owner who is an operator asks for themselves; the help desk names the
  owner it acts for (``on_behalf_of``). Anyone else is refused
  (``not_an_owner``), the case recorded as denied with a
  ``case:shared_account:request_refused`` event.
* **One link per owner.** When the case is executed Custos generates the new
  password (nobody chooses it: several people share it) and sends each owner a
  one-time link of their own (256-bit token, only its SHA-256 stored, the
  tier's ``token_ttl``), the password sealed per link (AES-GCM, bound to the
  link's row).
* **Semantics of the links.** Each owner's link shows the same new password
  once. The first link opened is the recovery's redemption (R-7): the password
  is sealed for propagation, every other reset token of the account voided,
  its sessions ended, and the other owners told. It does not burn the others'
  links: each stays good once until its own end time. Opening a link a second
  time, after it lapsed, or after the case was cancelled, denied or blocked
  answers like a spent reset link.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from custos.credentials import seal_contexts
from custos.credentials.passwords import generate_temporary_password
from custos.credentials.tokens import issue_token, looks_like_token, token_digest
from custos.domain.eligibility import owner_refusal
from custos.domain.errors import InvalidInput, TokenInvalid
from custos.domain.events import EventType, Outcome
from custos.domain.model import (
    SYSTEM_ACTOR,
    Case,
    ContactKind,
    CredentialAction,
    Operator,
    Subject,
    SubjectKind,
    subject_actor,
)
from custos.domain.states import CaseState
from custos.notify import messages
from custos.service.exceptions.break_glass_rules import passes_hold
from custos.service.notices import dispatch as notices
from custos.service.ports import Services
from custos.service.recovery.redemption import TokenExpired, begin_recovery, token_refusal
from custos.store.unit_of_work import UnitOfWork

#: The prefix of an owner's link token (``cso_...``).
OWNER_LINK_PREFIX = "cso"
#: Where an owner's link leads (built from the configured origin, R-17).
OWNER_LINK_PATH = "/shared#token="
#: Case states in which an owner's link still shows the credential.
_OPEN_LINK_STATES = frozenset(
    {
        CaseState.CREDENTIAL_ISSUED,
        CaseState.EXECUTING,
        CaseState.VERIFYING,
        CaseState.COMPLETED,
        CaseState.NEEDS_ATTENTION,
    }
)
_SPENT = "this link was already used or replaced; ask for a new recovery"


class OwnerUnreachable(InvalidInput):
    """An owner has no confirmed email address to receive their own link."""

    error_id = "no_delivery_channel"


@dataclass(frozen=True, slots=True)
class OwnerRedemption:
    case_id: str
    account: str
    owner: str
    #: The shared account's new password, shown once to this owner. Never logged.
    password: str
    #: The tier asks for a change at first use (``temp_password``).
    must_change: bool
    #: This owner's link was the first opened: the recovery's redemption.
    first: bool


def is_shared(subject: Subject) -> bool:
    return subject.kind == SubjectKind.SHARED


def requester_refusal(
    subject: Subject, *, requester_person: str | None, on_behalf_of: str | None
) -> str | None:
    """Why the request may not open for the shared account ``subject`` (the person
    asking, ``on_behalf_of`` when the help desk names one, is no owner), or None."""
    return owner_refusal(subject, on_behalf_of or requester_person)


def record_refusal(case: Case, *, reason: str, asking: str | None, now: datetime) -> None:
    """Deny ``case`` as it opens, with the ledger event that names who asked."""
    case.emit(
        EventType.SHARED_REQUEST_REFUSED,
        at=now,
        actor=case.requested_by,
        outcome=Outcome.DENIED,
        reason=reason,
        data={"asking": asking or "", "rule": "only an owner may request"},
    )
    case.move(CaseState.DENIED, at=now, actor=SYSTEM_ACTOR, reason=reason)


def issue(
    svc: Services,
    uow: UnitOfWork,
    *,
    case: Case,
    subject: Subject,
    executor: Operator | None,
    now: datetime,
) -> None:
    """Move the approved ``case`` of a shared account to ``credential_issued``
    and send every owner their own link. Raises OwnerUnreachable (nothing sent)
    when an owner has no confirmed email, InvalidInput when none is on record."""
    if not subject.owners:
        raise InvalidInput(f"shared account '{subject.id}' has no owner on record")
    reach: list[tuple[str, tuple[str, ...]]] = []
    for owner_id in subject.owners:
        owner = uow.subjects.get(owner_id)
        addresses = tuple(
            c.address for c in (owner.confirmed_contacts(ContactKind.EMAIL) if owner else ())
        )
        if not addresses:
            raise OwnerUnreachable(
                f"owner '{owner_id}' of shared account '{subject.id}' has no confirmed email "
                "contact to receive their own link; confirm one first (R-14)",
                owner=owner_id,
            )
        reach.append((owner_id, addresses))
    case.issue_credential(executor, subject, at=now)
    voided = uow.tokens.void_live(subject.id, now=now, reason="superseded by a newer token")
    voided += uow.owner_links.void_live(subject.id, now=now, reason="superseded by a newer link")
    password = generate_temporary_password()
    must_change = case.requirements.action == CredentialAction.TEMP_PASSWORD
    expires_at = now + case.requirements.token_ttl
    minutes = int(case.requirements.token_ttl.total_seconds() // 60)
    batch = []
    for owner_id, addresses in reach:
        token = issue_token(OWNER_LINK_PREFIX)
        link_id = uow.owner_links.add(
            case_id=case.id,
            subject_id=subject.id,
            owner=owner_id,
            digest=token.digest,
            must_change=must_change,
            now=now,
            expires_at=expires_at,
        )
        uow.owner_links.put_sealed(
            link_id, svc.sealer.seal(password, aad=seal_contexts.owner_link(link_id))
        )
        # the link is built from the configured origin, never from a request's Host.
        link = f"{svc.settings.public_origin}{OWNER_LINK_PATH}{token.plain}"
        batch += [
            messages.owner_link(
                to=address,
                case_id=case.id,
                account=subject.id,
                requested_by=_asking(case),
                link=link,
                minutes=minutes,
            )
            for address in addresses
        ]
    del password
    case.emit(
        EventType.OWNER_LINKS_ISSUED,
        at=now,
        actor=case.executed_by or SYSTEM_ACTOR,
        data={
            "owners": [o for o, _ in reach],
            "expires_at": expires_at.isoformat(),
            "ttl_s": int(case.requirements.token_ttl.total_seconds()),
            "voided_previous": voided,
            "delivered_to": len(batch),
        },
    )
    notices.queue(svc, uow, batch, subject_id=subject.id)
    # the account's own confirmed contacts learn of it too.
    notices.notify_recovery(
        svc, uow, case=case, subject=subject, event="credential_issued", now=now
    )


def _asking(case: Case) -> str:
    return case.on_behalf_of or case.requester_person or case.requested_by


def redeem(svc: Services, *, token: str) -> OwnerRedemption:
    """Open one owner's link: show the new password once. The first link opened
    redeems the recovery (propagation starts); the others stay good once each.
    Raises TokenInvalid, TokenExpired (error id ``token_expired``)."""
    if not looks_like_token(token, prefix=OWNER_LINK_PREFIX):
        raise TokenInvalid("this link is not valid; ask for a new recovery")
    now = svc.clock.now()
    with svc.uow() as uow:
        stored = uow.owner_links.by_digest(token_digest(token))
        if stored is None:
            raise TokenInvalid("this link is not valid; ask for a new recovery")
        case = uow.cases.get(stored.case_id, for_update=True)
        subject = uow.subjects.get(case.subject_id)
        assert subject is not None  # a case always references an existing subject
        actor = subject_actor(stored.owner)
        refusal = token_refusal(stored.redeemed_at, stored.voided_at, stored.expires_at, now)
        held = bool(subject.holds) and not passes_hold(uow, case, subject, now)
        if refusal is None and (case.state not in _OPEN_LINK_STATES or held):
            # Cancelled, denied, expired or blocked since: every link of it is spent.
            uow.owner_links.void_live(
                subject.id, now=now, reason=f"case {case.state}", case_id=case.id
            )
            refusal = "voided"
        if refusal is not None:
            uow.owner_links.wipe_lapsed(case.id, now=now)
            case.emit(
                EventType.TOKEN_REJECTED,
                at=now,
                actor=actor,
                outcome=Outcome.DENIED,
                reason=refusal,
                data={"owner_link": True},
            )
            uow.cases.save(case)
            uow.commit()
            if refusal == "expired":
                raise TokenExpired("this link has expired; ask for a new recovery")
            raise TokenInvalid(_SPENT)
        assert stored.blob is not None  # a live link holds its sealed credential
        password = svc.sealer.unseal(stored.blob, aad=seal_contexts.owner_link(stored.id))
        if not uow.owner_links.redeem(stored.id, now=now):
            raise TokenInvalid(_SPENT)
        first = case.state == CaseState.CREDENTIAL_ISSUED
        if first:
            begin_recovery(
                svc,
                uow,
                case=case,
                subject=subject,
                password=password,
                must_change=stored.must_change,
                actor=actor,
                now=now,
                data={"owner_link": True},
            )
            _tell_other_owners(svc, uow, case=case, subject=subject, owner=stored.owner, now=now)
        case.emit(
            EventType.OWNER_LINK_REDEEMED,
            at=now,
            actor=actor,
            data={"owner": stored.owner, "first": first, "must_change": stored.must_change},
        )
        uow.cases.save(case)
        uow.commit()
    return OwnerRedemption(
        case_id=case.id,
        account=subject.id,
        owner=stored.owner,
        password=password,
        must_change=stored.must_change,
        first=first,
    )


def _tell_other_owners(
    svc: Services, uow: UnitOfWork, *, case: Case, subject: Subject, owner: str, now: datetime
) -> None:
    batch = []
    for other in subject.owners:
        if other == owner:
            continue
        found = uow.subjects.get(other)
        for contact in found.confirmed_contacts(ContactKind.EMAIL) if found else ():
            batch.append(
                messages.owner_link_used(
                    to=contact.address, case_id=case.id, account=subject.id, owner=owner, at=now
                )
            )
    notices.queue(svc, uow, batch, subject_id=subject.id)


def wipe_lapsed(svc: Services) -> int:
    """Wipe the sealed credential of every owner link past its end (the worker's
    housekeeping); return how many."""
    with svc.uow() as uow:
        wiped = uow.owner_links.wipe_all_lapsed(now=svc.clock.now())
        uow.commit()
    return wiped
