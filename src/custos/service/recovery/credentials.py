"""Issuing the one-time token of an approved case and redeeming it (R-7, R-8,
R-17). The token reaches the subject only through their confirmed contacts; the
operator never sees it (R-34)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from custos.credentials.passwords import check_new_password, generate_temporary_password
from custos.credentials.tokens import issue_token, looks_like_token, token_digest
from custos.domain.errors import (
    InvalidInput,
    PasswordRejected,
    TokenInvalid,
)
from custos.domain.events import EventType, Outcome
from custos.domain.model import (
    SYSTEM_ACTOR,
    Case,
    ContactKind,
    CredentialAction,
    Operator,
    Subject,
    subject_actor,
)
from custos.domain.states import CaseState
from custos.notify import messages
from custos.service.exceptions.break_glass_rules import passes_hold
from custos.service.notices import dispatch as notices
from custos.service.ports import Services
from custos.service.recovery import shared_accounts
from custos.service.recovery.redemption import TokenExpired, begin_recovery, token_refusal
from custos.store.unit_of_work import UnitOfWork


class NoDeliveryChannel(InvalidInput):
    error_id = "no_delivery_channel"


@dataclass(frozen=True, slots=True)
class Redemption:
    case_id: str
    #: Only for tiers whose action is ``temp_password``: shown once to the token
    #: holder (the subject), to be changed at first logon. Never to an operator.
    temporary_password: str | None = None


def issue(
    svc: Services,
    uow: UnitOfWork,
    *,
    case: Case,
    subject: Subject,
    executor: Operator | None,
    now: datetime,
) -> None:
    """Move an approved case to ``credential_issued`` and send the one-time link
    (a shared account: one link per owner, ``shared_accounts.issue``).
    Raises NoDeliveryChannel when the subject (or an owner) has no confirmed
    email contact."""
    if shared_accounts.is_shared(subject):
        shared_accounts.issue(svc, uow, case=case, subject=subject, executor=executor, now=now)
        return
    contacts = subject.confirmed_contacts(ContactKind.EMAIL)
    if not contacts:
        raise NoDeliveryChannel(
            f"subject '{subject.id}' has no confirmed email contact to receive the "
            "one-time link; confirm a contact first (R-14)"
        )
    case.issue_credential(executor, subject, at=now)
    voided = uow.tokens.void_live(subject.id, now=now, reason="superseded by a newer token")
    token = issue_token()
    expires_at = now + case.requirements.token_ttl
    uow.tokens.add(
        case_id=case.id, subject_id=subject.id, digest=token.digest, now=now, expires_at=expires_at
    )
    case.emit(
        EventType.TOKEN_ISSUED,
        at=now,
        actor=case.executed_by or SYSTEM_ACTOR,
        data={
            "expires_at": expires_at.isoformat(),
            "ttl_s": int(case.requirements.token_ttl.total_seconds()),
            "voided_previous": voided,
            "delivered_to": len(contacts),
        },
    )
    # the link is built from the configured origin, never from a request's Host.
    link = f"{svc.settings.public_origin}/reset#token={token.plain}"
    minutes = int(case.requirements.token_ttl.total_seconds() // 60)
    links = [
        messages.reset_link(to=c.address, case_id=case.id, link=link, minutes=minutes)
        for c in contacts
    ]
    notices.queue(svc, uow, links, subject_id=subject.id)
    # every confirmed contact also learns of the recovery, with a way to repudiate it.
    notices.notify_recovery(
        svc, uow, case=case, subject=subject, event="credential_issued", now=now
    )


def redeem(
    svc: Services, *, token: str, new_password: str | None, source_address: str | None = None
) -> Redemption:
    """Redeem a one-time token: check the new password, consume the token (exactly
    one caller wins, however many race), seal the secret and queue one receipt per
    linked account. Raises TokenInvalid, TokenExpired, PasswordRejected."""
    del source_address  # recorded by the API's access log; risk v2 will use it
    if not looks_like_token(token):
        raise TokenInvalid("this link is not valid; ask for a new recovery")
    digest = token_digest(token)
    now = svc.clock.now()
    with svc.uow() as uow:
        stored = uow.tokens.by_digest(digest)
        if stored is None:
            raise TokenInvalid("this link is not valid; ask for a new recovery")
        case = uow.cases.get(stored.case_id, for_update=True)
        subject = uow.subjects.get(case.subject_id)
        assert subject is not None  # a case always references an existing subject
        actor = subject_actor(subject.id)
        refusal = token_refusal(stored.consumed_at, stored.voided_at, stored.expires_at, now)
        if refusal is not None:
            case.emit(
                EventType.TOKEN_REJECTED,
                at=now,
                actor=actor,
                outcome=Outcome.DENIED,
                reason=refusal,
            )
            if refusal == "expired" and case.state == CaseState.CREDENTIAL_ISSUED:
                case.move(
                    CaseState.EXPIRED,
                    at=now,
                    actor=SYSTEM_ACTOR,
                    reason="the one-time token expired unused",
                )
                uow.tokens.void_live(subject.id, now=now, reason="case expired")
            uow.cases.save(case)
            uow.commit()
            if refusal == "expired":
                raise TokenExpired("this link has expired; ask for a new recovery")
            raise TokenInvalid("this link was already used or replaced; ask for a new recovery")

        held = bool(subject.holds) and not passes_hold(uow, case, subject, now)
        if case.state != CaseState.CREDENTIAL_ISSUED or held:
            # Blocked (a hold, a fraud flag) or closed: the link answers as a
            # spent one, whatever the reason (docs/holds.md); a case under
            # break-glass goes on while its exception is active.
            raise TokenInvalid("this link was already used or replaced; ask for a new recovery")
        if case.requirements.action == CredentialAction.TEMP_PASSWORD:
            password = generate_temporary_password()
            must_change = True
        else:
            if not new_password:
                raise PasswordRejected("choose a new password", reasons=["a password is required"])
            try:
                check_new_password(
                    new_password,
                    mfa_bound=subject.mfa_bound,
                    user_inputs=password_inputs(subject),
                )
            except PasswordRejected as exc:
                case.emit(
                    EventType.PASSWORD_REJECTED,
                    at=now,
                    actor=actor,
                    outcome=Outcome.FAILURE,
                    data={"reasons": exc.details.get("reasons")},
                )
                uow.cases.save(case)
                uow.commit()  # the token stays valid: the subject may try another password
                raise
            password, must_change = new_password, False

        if not uow.tokens.consume(stored.id, now=now) or case.state != CaseState.CREDENTIAL_ISSUED:
            raise TokenInvalid("this link was already used or replaced; ask for a new recovery")
        begin_recovery(
            svc,
            uow,
            case=case,
            subject=subject,
            password=password,
            must_change=must_change,
            actor=actor,
            now=now,
        )
        temporary = password if must_change else None
        del password
        uow.cases.save(case)
        uow.commit()
    return Redemption(case_id=case.id, temporary_password=temporary)


def password_inputs(subject: Subject) -> list[str]:
    """What a new password must not contain or be guessed from: the subject's
    own id, name, contact addresses and account ids (zxcvbn user inputs)."""
    inputs = [subject.id, subject.display_name, *subject.display_name.split()]
    inputs += [c.address for c in subject.contacts]
    inputs += [c.address.split("@")[0] for c in subject.contacts]
    inputs += [a.account_id for a in subject.accounts]
    return inputs
