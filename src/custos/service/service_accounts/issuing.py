"""The rotate action of an approved case (docs/service-accounts.md): Custos
generates the secret from the CSPRNG with the tier's length and alphabet, seals
one copy for propagation (wiped when the last receipt is final) and one for the
owner, queues one receipt per linked account, and mails the owner who proofed a
one-time link (its SHA-256 digest alone is stored). The owner retrieves the
value once; the sealed copy is wiped then, or when the link lapses. The
executor never sees the value (R-34); nothing logs it (R-37, R-42)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from custos.credentials import seal_contexts, service_secrets
from custos.credentials.tokens import issue_token, looks_like_token, token_digest
from custos.domain.events import DomainEvent, EventType, Outcome
from custos.domain.model import SYSTEM_ACTOR, Case, ContactKind, Operator, Subject, subject_actor
from custos.notify import service_messages
from custos.policy.rotation import Rotation
from custos.policy.schema import format_duration
from custos.service.notices import dispatch as notices
from custos.service.ports import Services
from custos.service.recovery.credentials import NoDeliveryChannel
from custos.service.recovery.redemption import queue_propagation
from custos.service.service_accounts.errors import NoOwnerProofed, SecretLinkInvalid
from custos.service.service_accounts.requests import owners_of
from custos.store.unit_of_work import UnitOfWork

#: The token prefix of a retrieval link (a reset link's shape, another purpose).
LINK_PREFIX = "csr"
#: How the case and the message say what happens to the old credential (R-40).
NO_GRACE_WORDS = (
    "Targets that cannot hold two credentials (LDAP, Active Directory passwords) "
    "stop accepting the old value as soon as the new one is set."
)


@dataclass(frozen=True, slots=True)
class Retrieved:
    case_id: str
    service_id: str
    #: Shown once, to the owner holding the link; never stored in clear or logged.
    secret: str = field(repr=False)


def rotation_of(svc: Services, case: Case) -> Rotation:
    """The rotation section of the case's tier (its defaults if the tier is gone)."""
    try:
        found = svc.policy.document.tier(case.requirements.tier).rotation
    except KeyError:
        found = None
    return found or Rotation()


def proofed_owner(case: Case, service: Subject) -> str:
    """The owner whose evidence passed on ``case`` (the latest), still an owner.
    Raises NoOwnerProofed."""
    owners = owners_of(service)
    for proof in reversed(case.proofs):
        who = proof.actor.removeprefix("subject:")
        if proof.passed and proof.actor.startswith("subject:") and who in owners:
            return who
    raise NoOwnerProofed(
        f"no owner of '{service.id}' proofed on case {case.id}; an owner confirms it first"
    )


def issue(
    svc: Services,
    uow: UnitOfWork,
    *,
    case: Case,
    subject: Subject,
    executor: Operator | None,
    now: datetime,
) -> None:
    """Generate, seal, queue propagation and mail the owner's one-time link.
    Raises NoOwnerProofed, NoDeliveryChannel (the owner has no confirmed email)."""
    owner_id = proofed_owner(case, subject)
    owner = uow.subjects.get(owner_id)
    contacts = owner.confirmed_contacts(ContactKind.EMAIL) if owner else []
    if not contacts:
        raise NoDeliveryChannel(
            f"owner '{owner_id}' has no confirmed email contact to receive the one-time link"
        )
    rotation = rotation_of(svc, case)
    case.issue_credential(executor, subject, at=now)
    secret = service_secrets.generate(rotation.length, rotation.alphabet)
    uow.secrets.put(
        case.id,
        svc.sealer.seal(secret, aad=seal_contexts.case_secret(case.id)),
        must_change=False,
        now=now,
    )
    token = issue_token(LINK_PREFIX)
    expires_at = now + case.requirements.token_ttl
    uow.rotations.add(
        case_id=case.id,
        service_id=subject.id,
        owner_id=owner_id,
        digest=token.digest,
        sealed=svc.sealer.seal(secret, aad=seal_contexts.service_secret(case.id)),
        grace_s=int(rotation.grace_period.total_seconds()),
        now=now,
        expires_at=expires_at,
    )
    del secret
    case.emit(
        EventType.SERVICE_SECRET_ISSUED,
        at=now,
        actor=case.executed_by or SYSTEM_ACTOR,
        data={
            "owner": owner_id,
            "length": rotation.length,
            "alphabet_size": len(rotation.alphabet),
            "link_expires_at": expires_at.isoformat(),
            "grace_period_s": int(rotation.grace_period.total_seconds()),
            "delivered_to": len(contacts),
        },
    )
    link = f"{svc.settings.public_origin}/service-secret#token={token.plain}"
    grace = (
        f"Where a target can hold two credentials, the old value keeps working for "
        f"{format_duration(rotation.grace_period)} and is then revoked. {NO_GRACE_WORDS}"
    )
    minutes = int(case.requirements.token_ttl.total_seconds() // 60)
    batch = [
        service_messages.secret_link(
            to=c.address,
            case_id=case.id,
            account=subject.id,
            link=link,
            minutes=minutes,
            grace_words=grace,
        )
        for c in contacts
    ]
    notices.queue(svc, uow, batch, subject_id=owner_id)
    queue_propagation(svc, uow, case=case, subject=subject, now=now)


def retrieve(svc: Services, *, token: str) -> Retrieved:
    """Open the one-time link: the value, exactly once, while the link lives.
    Every refusal is recorded. Raises SecretLinkInvalid."""
    if not looks_like_token(token, prefix=LINK_PREFIX):
        raise SecretLinkInvalid("this link is not valid")
    now = svc.clock.now()
    with svc.uow() as uow:
        record = uow.rotations.by_digest(token_digest(token))
        if record is None:
            raise SecretLinkInvalid("this link is not valid")
        refusal = None
        if record.retrieved_at is not None:
            refusal = "already used"
        elif record.sealed_secret is None or record.expires_at <= now:
            refusal = "lapsed"
        if refusal is None and not uow.rotations.take(record.case_id, now=now):
            refusal = "already used"
        if refusal is not None or record.sealed_secret is None:
            if refusal == "lapsed":
                uow.rotations.wipe_lapsed(now)
            _event(uow, record.case_id, record.service_id, record.owner_id, now, refusal)
            uow.commit()
            raise SecretLinkInvalid(f"this link was {refusal}; ask for a new rotation")
        secret = svc.sealer.unseal(
            record.sealed_secret, aad=seal_contexts.service_secret(record.case_id)
        )
        _event(uow, record.case_id, record.service_id, record.owner_id, now, None)
        uow.commit()
    return Retrieved(case_id=record.case_id, service_id=record.service_id, secret=secret)


def wipe_lapsed(svc: Services) -> int:
    """Wipe the owner's copy of values whose link lapsed unretrieved (worker)."""
    now = svc.clock.now()
    with svc.uow() as uow:
        lapsed = uow.rotations.wipe_lapsed(now)
        for case_id in lapsed:
            record = uow.rotations.for_case(case_id)
            assert record is not None
            uow.ledger.append(
                [
                    DomainEvent(
                        type=EventType.SERVICE_SECRET_LAPSED,
                        occurred_at=now,
                        actor=SYSTEM_ACTOR,
                        subject_id=record.service_id,
                        case_id=case_id,
                        outcome=Outcome.FAILURE,
                        reason="the one-time link lapsed unretrieved; its sealed copy was wiped",
                    )
                ]
            )
        uow.commit()
    return len(lapsed)


def _event(
    uow: UnitOfWork,
    case_id: str,
    service_id: str,
    owner_id: str,
    now: datetime,
    refusal: str | None,
) -> None:
    uow.ledger.append(
        [
            DomainEvent(
                type=EventType.SERVICE_SECRET_RETRIEVED
                if refusal is None
                else EventType.SERVICE_SECRET_RETRIEVAL_REFUSED,
                occurred_at=now,
                actor=subject_actor(owner_id),
                subject_id=service_id,
                case_id=case_id,
                outcome=Outcome.SUCCESS if refusal is None else Outcome.DENIED,
                reason=refusal or "",
            )
        ]
    )
