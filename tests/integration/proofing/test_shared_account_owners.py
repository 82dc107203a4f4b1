"""Shared accounts (issue 13, docs/shared-accounts.md): only an owner asks (the
help desk names the owner it acts for), a non-owner is refused with
``not_an_owner`` and a ledger event, every owner gets their own one-time link
(only its hash stored) to one generated password, each link shows it once, the
first opened starts the recovery without burning the others, and the other
owners are told. Through the API against the built-in directory, on SQLite and
PostgreSQL; the mails go through the notice outbox as the worker sends them."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from assisted_helpers import auth, event_types, ledger_text, link_token
from fastapi.testclient import TestClient
from sqlalchemy import select

from conftest import World
from custos.api.app import create_app
from custos.domain.model import Role, SubjectKind
from custos.store.tables import owner_links

OWNERS = ("ana", "ben")


def _shared_account(world: World, owners: tuple[str, ...] = OWNERS) -> None:
    for owner in owners:
        world.subject(owner)
    world.subject("frontdesk", kind=SubjectKind.SHARED, with_totp=True)
    with world.svc.uow() as uow:
        desk = uow.subjects.get("frontdesk")
        assert desk is not None
        uow.subjects.update(dataclasses.replace(desk, owner=owners[0], owners=owners))
        uow.commit()


def _open(world: World, api: TestClient, **extra: Any) -> Any:
    if "hana" not in world.tokens:
        world.operator("hana", Role.REQUESTER, person="hana")
    return api.post(
        "/api/v1/cases",
        headers=auth(world, "hana"),
        json={"subject": "frontdesk", "reason": "team lost the shared password", **extra},
    )


def _to_issued(world: World, api: TestClient, case_id: str) -> None:
    """Prove with the account's TOTP, approve, execute."""
    proof = api.post(
        f"/api/v1/cases/{case_id}/proofs",
        headers=auth(world, "hana"),
        json={"method": "totp", "code": world.totp_now("frontdesk")},
    )
    assert proof.status_code == 200, proof.text
    world.operator("linus", Role.APPROVER, person="linus")
    world.operator("edsger", Role.EXECUTOR, person="edsger")
    approved = api.post(
        f"/api/v1/cases/{case_id}/approve", headers=auth(world, "linus"), json={"reason": "ok"}
    )
    assert approved.status_code == 200, approved.text
    executed = api.post(f"/api/v1/cases/{case_id}/execute", headers=auth(world, "edsger"))
    assert executed.status_code == 200, executed.text


def _issued_case(world: World, api: TestClient) -> str:
    _shared_account(world)
    opened = _open(world, api, on_behalf_of="ana")
    assert opened.status_code == 201, opened.text
    case_id = str(opened.json()["id"])
    _to_issued(world, api, case_id)
    return case_id


def _reveal(api: TestClient, token: str) -> Any:
    return api.post("/api/v1/self-service/shared-credential", json={"token": token})


def test_a_non_owner_request_is_refused_with_not_an_owner_and_a_ledger_event(
    world: World,
) -> None:
    """Only an owner may request: the help desk asking for itself (no owner) or
    for someone who is not an owner is refused with the stable id
    ``not_an_owner``; each attempt is a denied case with a
    ``case:shared_account:request_refused`` event naming who asked."""
    _shared_account(world)
    world.subject("mallory")
    with TestClient(create_app(world.svc)) as api:
        for extra in ({}, {"on_behalf_of": "mallory"}):
            refused = _open(world, api, **extra)
            assert refused.status_code == 409, refused.text
            error = refused.json()["error"]
            assert error["id"] == "not_an_owner"
            assert error["details"]["owners"] == list(OWNERS)
            case_id = error["details"]["case_id"]
            assert "case:shared_account:request_refused" in event_types(world, case_id)
            detail = api.get(f"/api/v1/cases/{case_id}", headers=auth(world, "hana")).json()
            assert detail["state"] == "denied"
        assert '"asking":"mallory"' in ledger_text(world)
        assert '"asking":"hana"' in ledger_text(world)


def test_an_owner_asking_through_the_help_desk_opens_a_case_and_cannot_approve_it(
    world: World,
) -> None:
    """The help desk acting for an owner opens the case (proofing); that owner,
    also an approver, may not approve their own request (R-32)."""
    _shared_account(world)
    world.operator("ana-op", Role.APPROVER, person="ana")
    with TestClient(create_app(world.svc)) as api:
        opened = _open(world, api, on_behalf_of="ana")
        assert opened.status_code == 201, opened.text
        case_id = opened.json()["id"]
        assert opened.json()["state"] == "proofing"
        proof = api.post(
            f"/api/v1/cases/{case_id}/proofs",
            headers=auth(world, "hana"),
            json={"method": "totp", "code": world.totp_now("frontdesk")},
        )
        assert proof.status_code == 200, proof.text
        own = api.post(
            f"/api/v1/cases/{case_id}/approve", headers=auth(world, "ana-op"), json={"reason": "me"}
        )
        assert own.status_code == 403 and own.json()["error"]["id"] == "sod_violation"


def test_every_owner_gets_their_own_link_and_each_shows_the_one_password_once(
    world: World,
) -> None:
    """Each owner receives their own link (one hashed token per owner); the first
    opened starts propagation and tells the other owner; the other owner's link
    still shows the same password once; a second opening of either is refused;
    the directory holds that password; no link and no password is stored or in
    the ledger in clear."""
    with TestClient(create_app(world.svc)) as api:
        case_id = _issued_case(world, api)
        tokens = {o: link_token(world, f"{o}@example.org", "owner_link") for o in OWNERS}
        assert len(set(tokens.values())) == 2
        assert world.mail("frontdesk@example.org", "reset_link") == []
        with world.svc.engine.connect() as conn:
            rows = conn.execute(select(owner_links).where(owner_links.c.case_id == case_id)).all()
        assert sorted(r.owner for r in rows) == sorted(OWNERS)
        assert all(r.blob is not None and tokens[r.owner].encode() not in r.blob for r in rows)

        first = _reveal(api, tokens["ana"])
        assert first.status_code == 200, first.text
        assert first.json()["first"] and first.json()["account"] == "frontdesk"
        password = first.json()["password"]
        assert world.mail("ben@example.org", "owner_link_used")
        assert world.mail("ana@example.org", "owner_link_used") == []

        world.drain()
        assert world.directory.verify_password("frontdesk", password)
        second = _reveal(api, tokens["ben"])
        assert second.status_code == 200, second.text
        assert second.json()["password"] == password and not second.json()["first"]
        for token in tokens.values():
            again = _reveal(api, token)
            assert again.status_code == 400 and again.json()["error"]["id"] == "token_invalid"
        detail = api.get(f"/api/v1/cases/{case_id}", headers=auth(world, "hana")).json()
        assert detail["state"] == "completed"
    with world.svc.engine.connect() as conn:
        assert all(r.blob is None for r in conn.execute(select(owner_links)))
    text = ledger_text(world)
    assert password not in text and not any(t in text for t in tokens.values())
    types = event_types(world, case_id)
    assert "credential:owner_link:issued" in types
    assert types.count("credential:owner_link:redeemed") == 2


def test_an_owner_link_past_its_end_is_refused_and_its_password_wiped(world: World) -> None:
    """A link opened after the tier's token lifetime answers ``token_expired``;
    the sealed password of every lapsed link is wiped (the worker's
    housekeeping), so nothing waits for an owner who never came."""
    with TestClient(create_app(world.svc)) as api:
        _issued_case(world, api)
        token = link_token(world, "ana@example.org", "owner_link")
        world.clock.advance(timedelta(minutes=16))
        late = _reveal(api, token)
        assert late.status_code == 400 and late.json()["error"]["id"] == "token_expired"
        world.drain()
    with world.svc.engine.connect() as conn:
        assert all(r.blob is None for r in conn.execute(select(owner_links)))


def test_a_cancelled_case_spends_every_owner_link(world: World) -> None:
    """Cancelled after execution: no owner's link shows the password any more."""
    with TestClient(create_app(world.svc)) as api:
        case_id = _issued_case(world, api)
        token = link_token(world, "ben@example.org", "owner_link")
        cancelled = api.post(
            f"/api/v1/cases/{case_id}/cancel",
            headers=auth(world, "hana"),
            json={"reason": "the team found the password"},
        )
        assert cancelled.status_code == 200, cancelled.text
        spent = _reveal(api, token)
        assert spent.status_code == 400 and spent.json()["error"]["id"] == "token_invalid"
    with world.svc.engine.connect() as conn:
        assert all(r.blob is None for r in conn.execute(select(owner_links)))


def test_an_owner_without_a_confirmed_address_stops_the_execution(world: World) -> None:
    """Every owner must get their own link: an owner with no confirmed email
    makes the execution fail with ``no_delivery_channel`` and sends nothing."""
    world.subject("cleo", email=False)
    with TestClient(create_app(world.svc)) as api:
        _shared_account(world)
        with world.svc.uow() as uow:
            desk = uow.subjects.get("frontdesk")
            assert desk is not None
            uow.subjects.update(dataclasses.replace(desk, owners=(*OWNERS, "cleo")))
            uow.commit()
        opened = _open(world, api, on_behalf_of="ben")
        case_id = opened.json()["id"]
        api.post(
            f"/api/v1/cases/{case_id}/proofs",
            headers=auth(world, "hana"),
            json={"method": "totp", "code": world.totp_now("frontdesk")},
        )
        world.operator("linus", Role.APPROVER, person="linus")
        world.operator("edsger", Role.EXECUTOR, person="edsger")
        api.post(
            f"/api/v1/cases/{case_id}/approve", headers=auth(world, "linus"), json={"reason": "ok"}
        )
        executed = api.post(f"/api/v1/cases/{case_id}/execute", headers=auth(world, "edsger"))
        assert executed.status_code == 422
        assert executed.json()["error"]["id"] == "no_delivery_channel"
        assert "cleo" in executed.json()["error"]["message"]
    assert world.mail("ana@example.org", "owner_link") == []
