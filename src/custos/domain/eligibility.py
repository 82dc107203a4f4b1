"""Who may be recovered at all, and by whom, beyond what a tier matches: a
subject whose contract has ended is not recovered (its directory states the
end), and a shared account is recovered only at the request of one of its
owners. Plain rules; the service layer applies them when a case opens."""

from __future__ import annotations

from datetime import datetime

from custos.domain.identities import Subject, SubjectKind


def contract_refusal(subject: Subject, now: datetime) -> str | None:
    """Why ``subject`` cannot be recovered because its contract (or account, as
    the directory states it) has ended, or None while it runs."""
    end = subject.contract_end
    if end is None or now < end:
        return None
    return (
        f"the contract of '{subject.id}' ended on {end.date().isoformat()}: recovery is "
        "refused; the sponsor extends the contract in the directory first"
    )


def owners_of(subject: Subject) -> tuple[str, ...]:
    """The owners of a shared (or service) account, in the order recorded."""
    return subject.owners


def owner_refusal(subject: Subject, requester_person: str | None) -> str | None:
    """Why ``requester_person`` may not request recovery of the shared account
    ``subject``, or None when they may (or the subject is not shared)."""
    if subject.kind != SubjectKind.SHARED:
        return None
    owners = owners_of(subject)
    if not owners:
        return f"shared account '{subject.id}' has no owner on record: nobody may request it"
    if requester_person not in owners:
        return (
            f"only an owner of shared account '{subject.id}' may request its recovery "
            f"(owners: {', '.join(owners)})"
        )
    return None
