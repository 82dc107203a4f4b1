"""Which proofing methods the self-service pages offer a subject.

Before any proof passes, the caller may not even name an account, so the offer
must read the same for every identifier (R-19): it is the union of the methods
that the policy's self-service tiers accept and that a subject answers on the
page, in one fixed order. Naming the subject's own tier or enrolled methods at
that point would tell who exists, who is privileged and who has a phone.

Once a proof has passed, the caller has shown a secret of the account; the
answer then lists what can still count for that case: the tier's methods the
subject actually has (an authenticator app, saved codes left, a confirmed email
address or phone number, a security key, a manager asked to attest), less those
already passed."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from custos.domain.model import Case, Channel, ContactKind, Subject
from custos.policy.loader import LoadedPolicy
from custos.proofing.base import METHODS
from custos.store.unit_of_work import UnitOfWork

#: Methods a subject answers on the recovery page, in the order they are offered:
#: the phishing-resistant key first, then the factors the subject holds, then
#: codes sent to contacts.
ANSWERED_ON_PAGE: Final = ("webauthn", "totp", "recovery_code", "email_code", "sms_code")
#: Evidence that arrives out of band while the subject waits (a manager's link).
AWAITED: Final = ("manager_attestation",)


def offered_to_anyone(policy: LoadedPolicy) -> tuple[str, ...]:
    """The methods any self-service tier of ``policy`` accepts that a subject
    answers on the page: the same answer for every identifier (R-19)."""
    accepted: set[str] = set()
    for tier in policy.document.tiers:
        if tier.proofing is not None and Channel.SELF_SERVICE in (tier.channels or ()):
            accepted.update(tier.proofing.methods)
    return tuple(m for m in ANSWERED_ON_PAGE if m in accepted)


def still_open(uow: UnitOfWork, *, case: Case, subject: Subject, now: datetime) -> tuple[str, ...]:
    """What can still count for ``case`` (in proofing, after a passed proof): the
    tier's methods the subject has, less those passed. When only one more proof
    is needed and the tier still wants a phishing-resistant one, only those."""
    req = case.requirements
    passed = case.passed_methods()
    held = {m for m in (*ANSWERED_ON_PAGE, *AWAITED) if _has(uow, case, subject, m, now)}
    open_ = [m for m in (*ANSWERED_ON_PAGE, *AWAITED) if m in req.methods and m in held]
    open_ = [m for m in open_ if m not in passed]
    needs_key = req.phishing_resistant and not any(
        p.passed and p.phishing_resistant for p in case.proofs
    )
    if needs_key and len(passed) + 1 >= req.factors:
        open_ = [m for m in open_ if METHODS[m].phishing_resistant]
    return tuple(open_)


def _has(uow: UnitOfWork, case: Case, subject: Subject, method: str, now: datetime) -> bool:
    if method == "webauthn":
        return bool(uow.authenticators.credentials(subject.id))
    if method == "totp":
        return uow.enrolments.totp(subject.id) is not None
    if method == "recovery_code":
        return uow.enrolments.remaining_recovery_codes(subject.id) > 0
    if method == "email_code":
        return bool(subject.confirmed_contacts(ContactKind.EMAIL))
    if method == "sms_code":
        return bool(subject.confirmed_contacts(ContactKind.SMS))
    if method == "manager_attestation":
        return uow.attestations.live_count(case.id, now) > 0
    return False
