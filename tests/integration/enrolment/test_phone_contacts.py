"""Phone numbers as recovery contacts, managed by the subject (R-14, R-20, R-23,
R-44), on SQLite and PostgreSQL: confirmed by a code sent by text, stored in
E.164, refused after a SIM swap, and every text counted against the subject's
send limits."""

from __future__ import annotations

import json
import re

import pytest
from pydantic import SecretStr
from risk_world import WEBHOOK_SECRET, report_sim_swap, texts
from sqlalchemy import select
from subject_helpers import sign_in, with_password

from conftest import World
from custos.domain.errors import InvalidInput, ProofingFailed, SmsBlocked, Throttled
from custos.domain.model import ContactKind
from custos.service.enrolment import contacts
from custos.store.tables import ledger, subject_contacts


def _text_code(world: World, number: str) -> str:
    (text,) = [t for t in texts(world) if t["to"] == number and t["kind"] == "contact_confirmation"]
    match = re.search(r"Custos: (\d{8}) confirms", text["body"])
    assert match, text
    return match.group(1)


def _phones(world: World, subject_id: str) -> list[str]:
    with world.svc.uow(read_only=True) as uow:
        subject = uow.subjects.get(subject_id)
    assert subject is not None
    return [c.address for c in subject.confirmed_contacts(ContactKind.SMS)]


def test_phone_contact_is_confirmed_by_a_texted_code(world: World) -> None:
    """R-14: the number is stored in E.164, gets its code by text (never by
    email), and counts for recovery only once the code came back. The code is
    in no ledger entry."""
    world.subject("bob")
    with_password(world, "bob")
    token = sign_in(world, "bob").token
    contact_id = contacts.add(
        world.svc, token=token, address="+49 (170) 123-4567", kind=ContactKind.SMS
    )
    assert world.mail("bob@example.org", "contact_confirmation") == []
    code = _text_code(world, "+491701234567")
    assert _phones(world, "bob") == []
    with pytest.raises(ProofingFailed):
        contacts.confirm(world.svc, token=token, contact_id=contact_id, code="00000000")
    contacts.confirm(world.svc, token=token, contact_id=contact_id, code=code)
    assert _phones(world, "bob") == ["+491701234567"]
    with world.svc.engine.connect() as conn:
        entries = [r.canonical for r in conn.execute(select(ledger.c.canonical))]
    assert not any(code in entry for entry in entries)
    sent = [json.loads(e) for e in entries if '"contact_confirmation"' in e]
    assert sent and all(e["type"] == "notify:subject:sent" for e in sent)


def test_phone_numbers_are_validated_and_compared_as_numbers(world: World) -> None:
    """A national or malformed number is refused saying what is expected; the same
    number spelt differently is a duplicate."""
    world.subject("bob")
    with_password(world, "bob")
    token = sign_in(world, "bob").token
    for bad in ("0170 1234567", "+49 170 ABC", "call me"):
        with pytest.raises(InvalidInput, match="international phone number"):
            contacts.add(world.svc, token=token, address=bad, kind=ContactKind.SMS)
    contacts.add(world.svc, token=token, address="+491701234567", kind=ContactKind.SMS)
    with pytest.raises(InvalidInput, match="already"):
        contacts.add(world.svc, token=token, address="0049 170 1234567", kind=ContactKind.SMS)
    with world.svc.engine.connect() as conn:
        stored = conn.execute(
            select(subject_contacts.c.address).where(subject_contacts.c.kind == "sms")
        ).all()
    assert [r.address for r in stored] == ["+491701234567"]


def test_no_phone_number_is_added_after_a_sim_swap(world: World) -> None:
    """R-44: while the carrier's SIM-swap signal is recent, no number is bound and
    no text is sent."""
    world.svc.settings.sim_swap_webhook_secret = SecretStr(WEBHOOK_SECRET)
    world.subject("bob")
    with_password(world, "bob")
    token = sign_in(world, "bob").token
    report_sim_swap(world, "bob")
    with pytest.raises(SmsBlocked):
        contacts.add(world.svc, token=token, address="+491701234567", kind=ContactKind.SMS)
    assert texts(world) == []
    assert [c for c in contacts.listed(world.svc, token=token) if c.kind == ContactKind.SMS] == []


def test_confirmation_texts_count_against_the_send_limits(world: World) -> None:
    """R-20: adding and removing numbers cannot pump texts: past the subject's
    send limit the add is refused (throttled, with a retry time) and nothing
    more is sent."""
    world.subject("bob")
    with_password(world, "bob")
    token = sign_in(world, "bob").token
    refused = None
    for n in range(30):
        try:
            contact_id = contacts.add(
                world.svc, token=token, address=f"+4917012345{n:02d}", kind=ContactKind.SMS
            )
        except Throttled as exc:
            refused = exc
            break
        contacts.remove(world.svc, token=token, contact_id=contact_id)
    assert refused is not None and refused.retry_after_seconds > 0
    sent = len([t for t in texts(world) if t["kind"] == "contact_confirmation"])
    assert sent == n  # every add before the refusal texted once; the refused one did not


def test_removing_a_confirmed_number_tells_it_by_text(world: World) -> None:
    """R-23: the removed number learns it was removed, by text, with no code."""
    world.subject("bob")
    with_password(world, "bob")
    token = sign_in(world, "bob").token
    contact_id = contacts.add(world.svc, token=token, address="+491701234567", kind=ContactKind.SMS)
    contacts.confirm(
        world.svc, token=token, contact_id=contact_id, code=_text_code(world, "+491701234567")
    )
    contacts.remove(world.svc, token=token, contact_id=contact_id)
    (notice,) = [t for t in texts(world) if t["kind"] == "contact_changed"]
    assert notice["to"] == "+491701234567"
    assert "removed" in notice["body"] and not re.search(r"\d{8}", notice["body"])
    assert _phones(world, "bob") == []
