"""The help desk's console for a shared account (docs/shared-accounts.md): the
subject page lists its owners and asks which owner is calling; a request for a
non-owner is recorded as a denied case with its own notice; a request for an
owner opens the case. On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from typing import Any

from console_cases import Desk
from console_helpers import console_client, csrf_of, sign_in

from conftest import World
from custos.domain.model import Role, SubjectKind
from custos.domain.states import CaseState


def _shared(world: World) -> None:
    for name in ("ana", "ben", "mallory"):
        world.subject(name)
    world.subject("frontdesk", kind=SubjectKind.SHARED, with_totp=True)
    with world.svc.uow() as uow:
        desk = uow.subjects.get("frontdesk")
        assert desk is not None
        uow.subjects.update(dataclasses.replace(desk, owner="ana", owners=("ana", "ben")))
        uow.commit()
    world.operator("hana", Role.REQUESTER, person="hana")


def _ask(desk: Desk, on_behalf_of: str) -> Any:
    page = desk.get("/console/subjects/frontdesk").text
    return desk.client.post(
        "/console/subjects/frontdesk/cases",
        data={
            "csrf": csrf_of(page),
            "reason": "team lost the password",
            "ticket": "INC-7",
            "on_behalf_of": on_behalf_of,
        },
    )


def test_console_lists_the_owners_and_asks_which_owner_is_calling(world: World) -> None:
    _shared(world)
    with console_client(world) as client:
        sign_in(client, world, "hana")
        page = Desk(client).get("/console/subjects/frontdesk").text
    assert "<dt>Owners</dt><dd>ana, ben</dd>" in page
    assert 'name="on_behalf_of"' in page
    assert '<option value="ana">ana</option>' in page and '<option value="ben">ben</option>' in page


def test_console_request_for_a_non_owner_is_a_denied_case_with_its_notice(world: World) -> None:
    """Only an owner may ask: the agent naming a non-owner lands on the denied
    case, which says why."""
    _shared(world)
    with console_client(world) as client:
        sign_in(client, world, "hana")
        answer = _ask(Desk(client), "mallory")
    assert answer.status_code == 200
    assert "only an owner of a shared account may ask for its recovery" in answer.text
    assert "only an owner of shared account &#39;frontdesk&#39; may request" in answer.text
    assert "denied" in answer.text


def test_console_request_for_an_owner_opens_the_case(world: World) -> None:
    _shared(world)
    with console_client(world) as client:
        sign_in(client, world, "hana")
        answer = _ask(Desk(client), "ben")
    assert answer.status_code == 200
    assert "Case opened." in answer.text
    with world.svc.uow() as uow:
        (case_id,) = uow.cases.ids_in_states({CaseState.PROOFING})
        assert uow.cases.get(case_id).on_behalf_of == "ben"
