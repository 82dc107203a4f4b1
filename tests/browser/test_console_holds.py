"""Holds in a real browser (docs/console.md#holds): Debian's Chromium driven by
Playwright against the app served by uvicorn, the pages' CSP in force. A
security approver sets a hold from a subject's page, cannot lift it herself;
another one lifts it from the holds list and sets a hold on a group. Every
page passes axe-core (no serious or critical violation)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from accessibility import assert_accessible
from browser_site import Site, served_site, shot
from playwright.sync_api import expect

from custos.domain.model import Employment, Role
from custos.service.holds.queries import list_holds
from custos.service.recovery import cases


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with served_site(tmp_path, accept_dialogs=True) as site:
        yield site


def test_a_hold_is_set_on_a_subject_and_lifted_by_another_security_approver(site: Site) -> None:
    world = site.world
    world.subject("carl", employment=Employment.CONTRACTOR, groups=("staff",), with_totp=True)
    world.operator("hana", Role.REQUESTER)
    world.operator("ada", Role.APPROVER, groups=("security-approvers",))
    world.operator("grace", Role.APPROVER, groups=("security-approvers",))
    case = cases.open_helpdesk_case(
        world.svc, world.operators["hana"], subject_id="carl", reason="lost phone"
    )

    ada = site.signed_in("ada")
    ada.goto(site.origin + "/console/subjects/carl")
    expect(ada.get_by_role("heading", name="Holds", exact=True)).to_be_visible()
    expect(ada.get_by_text("No hold stands on this subject or its groups.")).to_be_visible()
    assert_accessible(ada)
    ada.get_by_label("Kind").select_option("legal_hold")
    ada.get_by_label("Reason", exact=True).fill("litigation hold, matter 12")
    ada.get_by_label("Ticket reference").last.fill("LEG-12")
    ada.get_by_role("button", name="Set the hold").click()

    expect(ada.get_by_text("The hold is set and recorded in the ledger.")).to_be_visible()
    expect(ada.get_by_role("cell", name="litigation hold, matter 12 Ticket LEG-12")).to_be_visible()
    expect(ada.get_by_text("You set this hold: a different person must lift it.")).to_be_visible()
    expect(ada.get_by_role("button", name="Lift")).to_have_count(0)
    assert_accessible(ada)
    shot(ada, "console-subject-hold")
    with world.svc.uow(read_only=True) as uow:
        assert uow.cases.get(case.id).state == "blocked"
    [held] = list_holds(world.svc, None, subject_id="carl")

    grace = site.signed_in("grace")
    grace.goto(site.origin + "/")
    grace.get_by_role("navigation", name="Console").get_by_role("link", name="Holds").click()
    expect(grace.get_by_role("heading", name="Holds", exact=True)).to_be_visible()
    expect(grace.get_by_role("cell", name="subject 'carl'")).to_be_visible()
    assert_accessible(grace)
    shot(grace, "console-holds")
    grace.get_by_label(f"Why lift it ({held.hold.id})").fill("matter settled")
    grace.get_by_role("button", name=f"Lift hold {held.hold.id}").click()
    expect(grace.get_by_text("The hold is lifted and recorded in the ledger.")).to_be_visible()
    expect(grace.get_by_text("No hold in your scope matches.")).to_be_visible()
    assert_accessible(grace)
    with world.svc.uow(read_only=True) as uow:
        assert uow.cases.get(case.id).state == "proofing"

    # A hold on a group, from the list.
    grace.get_by_label("Group", exact=True).last.fill("finance")
    grace.get_by_label("Kind").select_option("incident_freeze")
    grace.get_by_label("Reason", exact=True).fill("phishing wave in finance")
    grace.get_by_label("Ticket reference").fill("IR-5")
    grace.get_by_role("button", name="Set the hold").click()
    expect(grace.get_by_text("The hold is set and recorded in the ledger.")).to_be_visible()
    expect(grace.get_by_role("cell", name="group 'finance'")).to_be_visible()
    assert_accessible(grace)


def test_the_setter_who_tries_a_lift_reads_why_not(site: Site) -> None:
    """Each security approver is offered the lift of the other's hold, never of
    their own; a lift of one's own posted anyway (a page from before) comes
    back refused in words with its error id."""
    world = site.world
    world.subject("dora", groups=("staff",))
    world.operator("ada", Role.APPROVER, groups=("security-approvers",))
    world.operator("grace", Role.APPROVER, groups=("security-approvers",))
    for name, ticket in (("grace", "IR-1"), ("ada", "LEG-2")):
        page = site.signed_in(name)
        page.goto(site.origin + "/console/subjects/dora")
        page.get_by_label("Reason", exact=True).fill(f"matter {ticket}")
        page.get_by_label("Ticket reference").last.fill(ticket)
        page.get_by_role("button", name="Set the hold").click()
        expect(page.get_by_text("The hold is set and recorded in the ledger.")).to_be_visible()
    by_setter = {h.set_by: h.hold.id for h in list_holds(world.svc, None, subject_id="dora")}

    ada = page  # the last one signed in
    expect(ada.get_by_role("button", name=f"Lift hold {by_setter['grace']}")).to_be_visible()
    expect(ada.get_by_role("button", name=f"Lift hold {by_setter['ada']}")).to_have_count(0)
    assert_accessible(ada)
    site.expected.add(403)
    ada.evaluate(
        """([id, csrf]) => {
             const f = document.createElement('form');
             f.method = 'post';
             f.action = '/console/holds/' + id + '/lift';
             for (const [k, v] of [['csrf', csrf], ['reason', 'mine'], ['subject', 'dora']]) {
               const i = document.createElement('input');
               i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i);
             }
             document.body.appendChild(f);
             f.submit();
           }""",
        [by_setter["ada"], ada.locator('input[name="csrf"]').first.get_attribute("value")],
    )
    alert = ada.get_by_role("alert")
    expect(alert).to_contain_text("You set this hold: a different person must lift it.")
    expect(alert).to_contain_text("Error id: hold_lift_by_setter")
    assert_accessible(ada)
