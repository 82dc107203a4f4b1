"""Service and shared accounts on the console's page
(docs/console.md#service-accounts): each account in the operator's scope with
its owners, its last rotation and when the schedule (``rotation.max_age``)
makes the next one due, and its flags (no owner who is a person, interactive
use recorded, a rotation case open). Read by auditors and admins, as the API's
``/service-accounts/...`` reads are; the owner departure is the admin's
(``owners.depart`` checks it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from custos.domain.errors import RecoveryBlocked
from custos.domain.events import EventType
from custos.domain.model import CredentialAction, Operator, Role, Subject, SubjectKind
from custos.policy.engine import select_tier
from custos.policy.schema import format_duration
from custos.service.ports import Services
from custos.service.service_accounts import owners
from custos.service.service_accounts.requests import owners_of

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PAGE = 500


@dataclass(frozen=True, slots=True)
class AccountLine:
    id: str
    display_name: str
    kind: str
    owners: tuple[str, ...]
    last_rotated: datetime | None
    #: When the schedule opens the next rotation; None: no schedule.
    next_due: datetime | None
    #: The schedule in words (``every 90d``), or why there is none.
    schedule: str
    #: Why it counts as unowned; None: an owner is a person Custos knows.
    unowned: str | None
    #: The last recorded interactive use (a ledger entry's reason and time).
    interactive_use: str | None
    interactive_at: datetime | None
    open_case: bool
    #: The next rotation's due time has passed.
    overdue: bool


@dataclass(frozen=True, slots=True)
class ServiceAccountsPage:
    service: list[AccountLine]
    shared: list[AccountLine]
    #: The owners a departure form offers (people owning an account listed).
    owners: list[str]
    may_depart: bool


def check_reader(operator: Operator) -> None:
    """Reading service accounts' ownership and logons: auditors and admins
    (the API's rule). Raises NotAuthorized."""
    owners.check_reader(operator)


def _shared_ids(svc: Services) -> list[str]:
    found: list[str] = []
    after: str | None = None
    with svc.uow(read_only=True) as uow:
        while True:
            batch = uow.subjects.search("", after=after, limit=PAGE)
            found += [b.id for b in batch if b.kind == SubjectKind.SHARED]
            if len(batch) < PAGE:
                return found
            after = batch[-1].id


def _schedule(
    svc: Services, service: Subject, since: datetime | None
) -> tuple[str, datetime | None]:
    if service.kind != SubjectKind.SERVICE:
        return "recovered by its owners (no rotation schedule)", None
    try:
        tier = select_tier(svc.policy, service)
    except RecoveryBlocked:
        return "no tier of the policy matches it", None
    if tier.action != CredentialAction.ROTATE or tier.rotation is None:
        return f"tier '{tier.name}' does not rotate", None
    due = None if since is None else since + tier.rotation.max_age
    return f"every {format_duration(tier.rotation.max_age)} (tier '{tier.name}')", due


def service_accounts_page(svc: Services, operator: Operator) -> ServiceAccountsPage:
    """Raises NotAuthorized (neither an auditor nor an admin)."""
    check_reader(operator)
    unowned = {u.service_id: u.why for u in owners.unowned(svc)}
    with svc.uow(read_only=True) as uow:
        service_ids = uow.rotations.service_ids()
        ages = uow.rotations.service_ages()
        last = uow.rotations.last_rotated(service_ids)
    shared_ids = _shared_ids(svc)
    with svc.uow(read_only=True) as uow:
        subjects = uow.subjects.get_many([*service_ids, *shared_ids])
        shown = {s.id: s for s in subjects.values() if operator.covers(s)}
        busy = uow.rotations.open_case_ids(shown)
        uses = uow.ledger.about_subjects([EventType.SERVICE_INTERACTIVE_USE], shown, since=EPOCH)
    last_use = {str(e["subject"]): e for e in uses}  # in ledger order: the last wins
    lines: list[AccountLine] = []
    now = svc.clock.now()
    for subject_id in sorted(shown):
        s = shown[subject_id]
        schedule, due = _schedule(svc, s, ages.get(subject_id))
        use = last_use.get(subject_id)
        lines.append(
            AccountLine(
                id=s.id,
                display_name=s.display_name,
                kind=str(s.kind),
                owners=owners_of(s),
                last_rotated=last.get(subject_id),
                next_due=due,
                schedule=schedule,
                unowned=unowned.get(subject_id)
                if s.kind == SubjectKind.SERVICE
                else (None if owners_of(s) else "no owner on record"),
                interactive_use=None if use is None else str(use["reason"]),
                interactive_at=None if use is None else use["occurred_at"],
                open_case=subject_id in busy,
                overdue=due is not None and due <= now,
            )
        )
    owner_ids = sorted(
        {o for line in lines if line.kind == SubjectKind.SERVICE for o in line.owners}
    )
    return ServiceAccountsPage(
        service=[line for line in lines if line.kind == SubjectKind.SERVICE],
        shared=[line for line in lines if line.kind == SubjectKind.SHARED],
        owners=owner_ids,
        may_depart=operator.has_role(Role.ADMIN),
    )
