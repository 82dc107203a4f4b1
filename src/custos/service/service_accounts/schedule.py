"""Rotation schedules (R-40): every service tier states a maximum credential
age (``rotation.max_age``); the worker opens a rotation case for each service
account whose credential is older and tells its owners, who then confirm it
with their own factor like any owner request. The age counts from the last
value Custos issued, or, for an account Custos never rotated, from when it was
first recorded."""

from __future__ import annotations

from datetime import datetime

from custos.domain.errors import RecoveryBlocked
from custos.domain.events import EventType
from custos.domain.model import SYSTEM_ACTOR, Case, Channel, ContactKind, CredentialAction, Subject
from custos.notify import service_messages
from custos.policy.engine import select_tier
from custos.policy.schema import format_duration
from custos.service.notices import dispatch as notices
from custos.service.ports import Services
from custos.service.recovery.opening import open_case
from custos.service.service_accounts.requests import owners_of
from custos.store.unit_of_work import UnitOfWork


def open_due_rotations(svc: Services) -> list[str]:
    """Open a rotation case for every service account past its max_age that has
    no open case and an owner; returns the new cases' ids."""
    now = svc.clock.now()
    opened: list[str] = []
    with svc.uow(read_only=True) as uow:
        since = uow.rotations.service_ages()
        busy = uow.rotations.open_case_ids(since)
    for service_id, known_since in sorted(since.items()):
        if service_id in busy:
            continue
        with svc.uow() as uow:
            service = uow.subjects.get(service_id)
            if service is None or not owners_of(service):
                continue  # unowned accounts are reported (custos owners unowned)
            try:
                tier = select_tier(svc.policy, service)
            except RecoveryBlocked:
                continue
            if tier.action != CredentialAction.ROTATE or tier.rotation is None:
                continue
            if now - known_since < tier.rotation.max_age:
                continue
            why = (
                f"its credential is older than {format_duration(tier.rotation.max_age)} "
                f"(known since {known_since.date().isoformat()})"
            )
            case = open_rotation(
                svc,
                uow,
                service=service,
                requested_by=SYSTEM_ACTOR,
                requester_person=None,
                reason=f"scheduled rotation: {why}",
                now=now,
            )
            case.emit(EventType.SERVICE_ROTATION_DUE, at=now, actor=SYSTEM_ACTOR, reason=why)
            uow.cases.save(case)
            uow.commit()
            opened.append(case.id)
    return opened


def open_rotation(
    svc: Services,
    uow: UnitOfWork,
    *,
    service: Subject,
    requested_by: str,
    requester_person: str | None,
    reason: str,
    now: datetime,
) -> Case:
    """Open an owner_request case on ``service`` that its owners confirm, and
    tell every owner (their confirmed email contacts). Not committed."""
    case = open_case(
        svc,
        uow,
        subject=service,
        channel=Channel.OWNER_REQUEST,
        reason=reason,
        requested_by=requested_by,
        requester_person=requester_person,
        source_address=None,
        now=now,
    )
    batch = []
    for owner_id in owners_of(service):
        owner = uow.subjects.get(owner_id)
        for contact in owner.confirmed_contacts(ContactKind.EMAIL) if owner else ():
            batch.append(
                service_messages.rotation_due(
                    to=contact.address, case_id=case.id, account=service.id, why=reason
                )
            )
    notices.queue(svc, uow, batch, subject_id=service.id)
    return case
