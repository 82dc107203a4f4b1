"""What a completed recovery signals (R-31): one SET per stream that asked for
the event, written to the SET outbox in the transaction that completes the
case, so a rolled-back completion sends nothing and a committed one is sent at
least once.

- ``credential-change`` (``credential_type`` password, ``change_type`` update)
  for every completed case: the password was replaced on every required target
  (and read back, when the tier checks ``read_back``).
- ``session-revoked`` when the case's tier asks for sessions to end (it lists
  ``sessions_revoked`` in its post-recovery checks, R-24): the redemption ended
  the subject's Custos sessions, and the check ended them on every target that
  can revoke sessions; receivers end theirs.

Both carry ``txn`` = the case id (one cause), ``initiating_entity`` from the
channel, ``event_timestamp`` = the completion, and ``reason_admin`` naming the
case, its channel and tier and the reason given when it was opened.

The subject is named (``[ssf] subject_format``) by its first confirmed email
contact, or, without one or when configured so, as ``iss_sub`` with Custos's
issuer and the subject id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from custos.domain import shared_signals as ssf
from custos.domain.model import Case, ContactKind, Subject
from custos.service.ports import Services
from custos.service.shared_signals.outbox import issuer, queued
from custos.store.ssf_repository import SetRow
from custos.store.unit_of_work import UnitOfWork

#: The post-recovery check whose presence in a tier makes a recovery end sessions.
SESSIONS_CHECK = "sessions_revoked"


@dataclass(frozen=True, slots=True)
class Recovered:
    """A case that just completed, its subject, and the targets whose
    ``sessions_revoked`` check saw sessions end."""

    case: Case
    subject: Subject
    sessions_ended_on: tuple[str, ...] = ()


def subject_identifier(svc: Services, subject: Subject) -> dict[str, object]:
    """The ``sub_id`` of the subject's SETs (see the module docstring)."""
    if svc.settings.ssf.subject_format == "email":
        emails = subject.confirmed_contacts(ContactKind.EMAIL)
        if emails:
            return ssf.email_subject(emails[0].address)
    return ssf.iss_sub_subject(issuer(svc), subject.id)


def _events(item: Recovered, now: datetime) -> list[tuple[str, dict[str, object]]]:
    case = item.case
    req = case.requirements

    def reason(what: str) -> str:
        return ssf.recovery_reason(
            case_id=case.id, tier=req.tier, channel=case.channel, reason=case.reason, what=what
        )

    events = [
        (
            ssf.CREDENTIAL_CHANGE,
            ssf.credential_change(
                channel=case.channel,
                occurred_at=now,
                reason_admin=reason(
                    "the password was replaced on every required target"
                    + (" and read back" if "read_back" in req.post_checks else "")
                ),
            ),
        )
    ]
    if SESSIONS_CHECK in req.post_checks:
        where = "in Custos" + (
            f" and on {', '.join(item.sessions_ended_on)}" if item.sessions_ended_on else ""
        )
        events.append(
            (
                ssf.SESSION_REVOKED,
                ssf.session_revoked(
                    channel=case.channel,
                    occurred_at=now,
                    reason_admin=reason(f"the subject's sessions were ended {where}"),
                ),
            )
        )
    return events


def signal_recoveries(
    svc: Services, uow: UnitOfWork, recovered: Sequence[Recovered], *, now: datetime
) -> int:
    """Queue the SETs of these completed recoveries in ``uow``'s transaction.
    Returns how many were queued."""
    if not recovered:
        return 0
    streams = [s for s in uow.ssf_streams.holding() if s.events_delivered]
    rows: list[SetRow] = []
    for item in recovered if streams else ():
        subject = subject_identifier(svc, item.subject)
        for event_type, event in _events(item, now):
            rows.extend(
                queued(
                    svc,
                    stream,
                    subject=subject,
                    event_type=event_type,
                    event=event,
                    txn=item.case.id,
                    subject_id=item.subject.id,
                    case_id=item.case.id,
                    now=now,
                )
                for stream in streams
                if event_type in stream.events_delivered
            )
    uow.ssf_outbox.add_many(rows, due_at=now)
    return len(rows)
