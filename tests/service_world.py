"""Service accounts and their owners for the rotation tests (default policy:
the ``service`` tier rotates, one approver from ``service-owners``): owners
are people with TOTP, the service account's linked accounts are given, and
``rotate`` walks a rotation from the owner's request to the executor."""

from __future__ import annotations

import re
from datetime import timedelta

from conftest import World
from custos.domain.model import Contact, ContactKind, LinkedAccount, Role, Subject, SubjectKind
from custos.service.recovery import cases
from custos.service.service_accounts import requests

APPROVER, EXECUTOR = "sam", "eve"


def owner(world: World, owner_id: str) -> Subject:
    """A person with TOTP and a confirmed email, who may own service accounts."""
    return world.subject(owner_id, with_totp=True)


def service_account(
    world: World,
    service_id: str,
    owners: tuple[str, ...],
    accounts: tuple[LinkedAccount, ...] | None = None,
    age: timedelta = timedelta(0),
) -> Subject:
    """A service account owned by ``owners`` (``owner`` is the first), with
    ``accounts`` (default: one in the built-in directory, created there), first
    recorded ``age`` before the clock's now."""
    subject = Subject(
        id=service_id,
        display_name=service_id,
        kind=SubjectKind.SERVICE,
        groups=frozenset({"services"}),
        owner=owners[0] if owners else None,
        owners=owners,
        contacts=(Contact(ContactKind.EMAIL, f"{service_id}@example.org", True),),
        accounts=accounts or (LinkedAccount("directory", service_id),),
    )
    with world.svc.uow() as uow:
        uow.subjects.add(subject, now=world.clock.now() - age)
        uow.commit()
    if accounts is None:
        world.directory.create_account(service_id, f"old-{service_id}-password-1")
    return subject


def operators(world: World) -> None:
    if APPROVER not in world.operators:
        world.operator(APPROVER, Role.APPROVER, groups=("service-owners",))
        world.operator(EXECUTOR, Role.EXECUTOR)


def rotate(world: World, owner_id: str, service_id: str) -> str:
    """The owner asks and proves with their TOTP, the approver approves, the
    executor executes. Returns the case id (propagation: ``world.drain()``)."""
    operators(world)
    case = requests.request_rotation(
        world.svc, owner_id=owner_id, service_id=service_id, reason="yearly rotation"
    )
    confirm(world, owner_id, case.id)
    return case.id


def confirm(world: World, owner_id: str, case_id: str) -> None:
    """The owner proves with TOTP, then approval and execution."""
    operators(world)
    world.clock.advance(timedelta(seconds=31))  # a fresh TOTP step each time
    requests.prove_owner(
        world.svc,
        owner_id=owner_id,
        case_id=case_id,
        method="totp",
        response=world.totp_now(owner_id),
    )
    cases.approve(world.svc, world.operators[APPROVER], case_id, reason="owner confirmed")
    cases.execute(world.svc, world.operators[EXECUTOR], case_id)


def link_token(world: World, owner_id: str, case_id: str) -> str:
    """The one-time link token mailed to the owner for ``case_id``."""
    mails = [
        m
        for m in world.mail(f"{owner_id}@example.org", "service_secret_link")
        if m["case_id"] == case_id
    ]
    assert len(mails) == 1, mails
    match = re.search(r"#token=(\S+)", mails[0]["body"])
    assert match, mails[0]["body"]
    return match.group(1)
