"""Owner departure (R-39) and unowned service accounts. When an owner leaves
(an HR event, ``custos owners depart``), every service account they own passes
to the successor, each transfer a ledger event in the same transaction, and a
rotation case opens for each: whatever the departed owner could reach is
rotated, confirmed by the successor with their own factor and approved as the
tier says."""

from __future__ import annotations

from dataclasses import dataclass, replace

from custos.domain import sod
from custos.domain.errors import InvalidInput, NotFound
from custos.domain.events import DomainEvent, EventType
from custos.domain.model import Operator, Role, SubjectKind
from custos.service.ports import Services
from custos.service.service_accounts.requests import owners_of
from custos.service.service_accounts.schedule import open_rotation


@dataclass(frozen=True, slots=True)
class Transfer:
    service_id: str
    case_id: str
    case_state: str


@dataclass(frozen=True, slots=True)
class Unowned:
    service_id: str
    display_name: str
    why: str


def depart(
    svc: Services, operator: Operator, *, owner_id: str, successor_id: str, reason: str
) -> list[Transfer]:
    """Transfer every service account of ``owner_id`` to ``successor_id`` and open
    a rotation case for each. Raises NotAuthorized (an admin only), NotFound,
    InvalidInput (successor not a person, or the departing owner themselves)."""
    sod.check_role(operator, Role.ADMIN)
    reason = reason.strip() or "owner departure"
    if owner_id == successor_id:
        raise InvalidInput("the successor must be another person than the departing owner")
    now = svc.clock.now()
    transfers: list[Transfer] = []
    with svc.uow() as uow:
        successor = uow.subjects.get(successor_id)
        if successor is None or successor.kind != SubjectKind.HUMAN:
            raise InvalidInput(f"successor '{successor_id}' is not a person Custos knows")
        if uow.subjects.get(owner_id) is None:
            raise NotFound(f"no subject '{owner_id}'", subject_id=owner_id)
        for service_id in uow.rotations.service_ids():
            service = uow.subjects.get(service_id)
            if service is None or owner_id not in owners_of(service):
                continue
            owners = tuple(
                dict.fromkeys(successor_id if o == owner_id else o for o in owners_of(service))
            )
            moved = replace(service, owners=owners, owner=owners[0])
            uow.subjects.update(moved, now=now)
            uow.ledger.append(
                [
                    DomainEvent(
                        type=EventType.SERVICE_OWNER_TRANSFERRED,
                        occurred_at=now,
                        actor=operator.actor,
                        subject_id=service_id,
                        case_id=None,
                        reason=reason,
                        data={"from": owner_id, "to": successor_id, "owners": list(owners)},
                    )
                ]
            )
            case = open_rotation(
                svc,
                uow,
                service=moved,
                requested_by=operator.actor,
                requester_person=operator.person,
                reason=f"owner '{owner_id}' departed; rotated for '{successor_id}' (R-39)",
                now=now,
            )
            transfers.append(Transfer(service_id, case.id, str(case.state)))
        uow.commit()
    return transfers


def check_reader(operator: Operator) -> None:
    """Reading service accounts' ownership and logons: auditors and admins.
    Raises NotAuthorized."""
    if not operator.has_role(Role.ADMIN):
        sod.check_role(operator, Role.AUDITOR)


def check_in_scope(svc: Services, operator: Operator, service_id: str) -> None:
    """Raises NotFound for a subject unknown or outside the operator's scope."""
    with svc.uow(read_only=True) as uow:
        subject = uow.subjects.get(service_id)
    if subject is None or not operator.covers(subject):
        raise NotFound(f"no subject '{service_id[:80]}'", subject_id=service_id[:80])


def unowned(svc: Services, operator: Operator | None = None) -> list[Unowned]:
    """Service accounts with no owner, or whose every owner is unknown or not a
    person. With ``operator``, only the accounts in their scope (the others are
    left out, as the console's list leaves them out); None: the local CLI."""
    found: list[Unowned] = []
    with svc.uow(read_only=True) as uow:
        for service_id in uow.rotations.service_ids():
            service = uow.subjects.get(service_id)
            if service is None or (operator is not None and not operator.covers(service)):
                continue
            owners = owners_of(service)
            if not owners:
                found.append(Unowned(service_id, service.display_name, "no owner on record"))
                continue
            people = [o for o in owners if (s := uow.subjects.get(o)) and s.kind == "human"]
            if not people:
                found.append(
                    Unowned(
                        service_id,
                        service.display_name,
                        "no owner is a person Custos knows: " + ", ".join(owners),
                    )
                )
    return found
