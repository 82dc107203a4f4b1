"""Who may attest a recovery request, and separation of duties for attesters.

A human employee's manager attests; a contractor's sponsor does (their manager
when no sponsor is on record). The attester is never the subject, the person
who requested the case, nor the person who asked for the attestation: nobody
vouches for their own request (R-33 applied to proofing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from custos.domain.errors import SeparationOfDuties

if TYPE_CHECKING:
    from custos.domain.model import Subject

MANAGER = "manager"
SPONSOR = "sponsor"


def attester_of(subject: Subject) -> tuple[str, str] | None:
    """``(relation, attester subject id)`` for ``subject``, or None when no
    manager or sponsor is on record (service and shared accounts have none)."""
    from custos.domain.model import Employment, SubjectKind

    if subject.kind != SubjectKind.HUMAN:
        return None
    if subject.employment == Employment.CONTRACTOR and subject.sponsor:
        return SPONSOR, subject.sponsor
    if subject.manager:
        return MANAGER, subject.manager
    return None


def check_attester(
    attester_id: str,
    *,
    subject_id: str,
    requester_person: str | None,
    asked_by_person: str | None,
) -> None:
    """Raise SeparationOfDuties when ``attester_id`` is the subject, the case's
    requester or the person asking for the attestation."""
    if attester_id == subject_id:
        raise SeparationOfDuties("a subject cannot attest their own recovery")
    if attester_id in {p for p in (requester_person, asked_by_person) if p}:
        raise SeparationOfDuties("the requester of a recovery cannot attest it (R-33)")
