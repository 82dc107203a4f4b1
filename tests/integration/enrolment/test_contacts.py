"""Recovery contacts managed by the subject (R-14, R-22, R-23, R-27), on SQLite
and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from subject_helpers import sign_in, with_password

from conftest import World
from custos.domain.errors import InvalidInput, ProofingFailed, ReauthenticationRequired
from custos.service.enrolment import contacts
from custos.service.recovery import self_service
from custos.store.tables import subject_contacts


def _code(world: World, address: str) -> str:
    body = world.mail(address, "contact_confirmation")[-1]["body"]
    match = re.search(r"code within \d+ minutes: (\d{8})", body)
    assert match, body
    return match.group(1)


def _confirmed(world: World, subject_id: str) -> list[str]:
    with world.svc.uow() as uow:
        subject = uow.subjects.get(subject_id)
    assert subject is not None
    return [c.address for c in subject.confirmed_contacts()]


def test_added_contact_is_unused_until_confirmed(world: World) -> None:
    """R-14: the new address gets a code; no recovery code goes there before."""
    world.subject("bob")
    with_password(world, "bob")
    token = sign_in(world, "bob").token
    contact_id = contacts.add(world.svc, token=token, address="bob@home.example.net")
    assert _confirmed(world, "bob") == ["bob@example.org"]
    flow = self_service.start(world.svc, identifier="bob", source_address="10.0.0.9")
    self_service.request_email_code(world.svc, handle=flow)
    assert world.mail("bob@home.example.net", "email_code") == []
    with pytest.raises(ProofingFailed):
        contacts.confirm(world.svc, token=token, contact_id=contact_id, code="12345678")
    contacts.confirm(
        world.svc, token=token, contact_id=contact_id, code=_code(world, "bob@home.example.net")
    )
    assert _confirmed(world, "bob") == ["bob@example.org", "bob@home.example.net"]


def test_confirmation_code_expires_after_an_hour(world: World) -> None:
    world.subject("bob")
    with_password(world, "bob")
    token = sign_in(world, "bob").token
    contact_id = contacts.add(world.svc, token=token, address="late@example.net")
    code = _code(world, "late@example.net")
    world.clock.advance(timedelta(minutes=61))
    token = sign_in(world, "bob").token
    with pytest.raises(ProofingFailed):
        contacts.confirm(world.svc, token=token, contact_id=contact_id, code=code)


def test_several_contacts_allowed_up_to_the_cap(world: World) -> None:
    """R-14: at least two addresses; at most five; no duplicates."""
    world.subject("bob", email=False)
    with_password(world, "bob")
    token = sign_in(world, "bob").token
    for n in range(contacts.MAX_CONTACTS):
        contacts.add(world.svc, token=token, address=f"bob{n}@example.net")
    with pytest.raises(InvalidInput, match="at most"):
        contacts.add(world.svc, token=token, address="one-more@example.net")
    with pytest.raises(InvalidInput, match="already"):
        contacts.add(world.svc, token=token, address="BOB0@example.net")
    assert len(contacts.listed(world.svc, token=token)) == contacts.MAX_CONTACTS


def test_removing_a_contact_tells_the_old_address(world: World) -> None:
    """R-23: the removed address learns it was removed; it is kept in the history."""
    world.subject("bob")
    with_password(world, "bob")
    token = sign_in(world, "bob").token
    (current,) = [c for c in contacts.listed(world.svc, token=token) if c.confirmed]
    contacts.remove(world.svc, token=token, contact_id=current.id)
    (notice,) = world.mail("bob@example.org", "contact_changed")
    assert "removed" in notice["body"]
    assert _confirmed(world, "bob") == []
    with world.svc.engine.connect() as conn:
        removed = conn.execute(
            select(subject_contacts.c.removed_at).where(subject_contacts.c.id == current.id)
        ).scalar_one()
    assert removed is not None


def test_changing_a_contact_notifies_the_old_and_confirms_the_new(world: World) -> None:
    """R-23: a change of contact notifies the OLD address; no message holds a secret
    but the new address's own confirmation code."""
    world.subject("bob")
    with_password(world, "bob")
    token = sign_in(world, "bob").token
    (old,) = [c for c in contacts.listed(world.svc, token=token) if c.confirmed]
    contacts.replace(world.svc, token=token, contact_id=old.id, address="bob@new.example.net")
    assert world.mail("bob@example.org", "contact_changed")
    assert world.mail("bob@new.example.net", "contact_confirmation")
    assert world.mail("bob@example.org", "contact_confirmation") == []


def test_contact_changes_need_a_fresh_reauthentication(world: World) -> None:
    """R-27."""
    world.subject("bob")
    with_password(world, "bob")
    token = sign_in(world, "bob").token
    world.clock.advance(timedelta(minutes=6))
    with pytest.raises(ReauthenticationRequired):
        contacts.add(world.svc, token=token, address="x@example.net")
    (current,) = [c for c in contacts.listed(world.svc, token=token) if c.confirmed]
    with pytest.raises(ReauthenticationRequired):
        contacts.remove(world.svc, token=token, contact_id=current.id)
