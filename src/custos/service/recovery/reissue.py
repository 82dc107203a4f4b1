"""A credential reissue, the part that happens in Custos when the subject
redeems the one-time link (``reissue`` tiers, docs/policy.md#actions).

``credentials.redeem`` already voids every other live reset token and ends
every Custos session of the subject, for every action. A reissue also:

* revokes every authenticator bound in Custos (TOTP, WebAuthn, saved codes:
  the TOTP secret and unused codes are deleted, history rows stay, R-36) and
  clears the R-5 locks of the methods it removed (``lock_resets``);
* spends every live enrolment or sign-in ceremony (a TOTP secret awaiting its
  first code, WebAuthn challenges and case links);
* requires re-enrolment: the next sign-in may do nothing but bind a
  phishing-resistant authenticator (the R-45 flag, ``subject_sessions``).

On the targets the propagation worker removes the second factors where a
target can (``reset_factors``) and the ``sessions_revoked`` and
``factors_removed`` checks read back that none remain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from custos.domain.enrolment import Authenticator
from custos.domain.events import EventType
from custos.domain.model import SYSTEM_ACTOR, Case, Subject
from custos.service.enrolment import subject_sessions
from custos.service.recovery import lock_resets
from custos.store.unit_of_work import UnitOfWork

REASON = "credential reissued"


def reissue_in_custos(uow: UnitOfWork, *, case: Case, subject: Subject, now: datetime) -> None:
    """Remove every authenticator of ``subject`` bound in Custos, void its live
    ceremonies and require re-enrolment, in the caller's transaction, with one
    ledger event on ``case`` saying what went."""
    removed = uow.authenticators.revoke_all(subject.id, reason=REASON, now=now)
    voided = uow.authenticators.void_pending(subject.id, now=now)
    _emit_removed(
        case, removed, voided=voided, left=len(uow.authenticators.active(subject.id)), now=now
    )
    lock_resets.clear_removed(uow, case=case, removed={a.kind for a in removed}, now=now)
    subject_sessions.require_bind(
        uow, subject.id, now=now, case_id=case.id, reason=f"{REASON}: enrol again"
    )


def reissue_in_custos_many(uow: UnitOfWork, cases: Sequence[Case], *, now: datetime) -> None:
    """:func:`reissue_in_custos` for the cases of an incident campaign's batch
    (one subject each), with the same writes and the same events in the same
    ledger order: the subjects' authenticators read, their secrets deleted,
    their ceremonies voided and their R-45 flags set in a few statements per
    batch; only a subject with an active authenticator takes the one-subject
    revocation (and the lock resets it allows)."""
    ids = [case.subject_id for case in cases]
    active = uow.authenticators.active_many(ids)
    uow.authenticators.discard_secrets_many([s for s in ids if s not in active])
    voided = uow.authenticators.void_pending_many(ids, now=now)
    for case in cases:
        removed = []
        left = 0
        if case.subject_id in active:
            removed = uow.authenticators.revoke_all(case.subject_id, reason=REASON, now=now)
            left = len(uow.authenticators.active(case.subject_id))
        _emit_removed(case, removed, voided=voided.get(case.subject_id, 0), left=left, now=now)
        if removed:  # no removed kind clears no lock
            lock_resets.clear_removed(uow, case=case, removed={a.kind for a in removed}, now=now)
    subject_sessions.require_bind_many(
        uow, [(c.subject_id, c.id) for c in cases], now=now, reason=f"{REASON}: enrol again"
    )


def _emit_removed(
    case: Case, removed: Sequence[Authenticator], *, voided: int, left: int, now: datetime
) -> None:
    """The reissue's one ledger event on ``case``: what was removed, how many
    ceremonies voided, how many authenticators are left."""
    case.emit(
        EventType.AUTHENTICATORS_REMOVED,
        at=now,
        actor=SYSTEM_ACTOR,
        reason=REASON,
        data={
            "removed": len(removed),
            "kinds": sorted({str(a.kind) for a in removed}),
            "ceremonies_voided": voided,
            "left": left,
        },
    )
