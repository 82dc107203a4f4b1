"""Exceptions, incident campaigns and service accounts in a real browser
(docs/console.md#exceptions, #campaigns, #service-accounts): Debian's
Chromium driven by Playwright against the app served by uvicorn, the pages'
CSP in force (a refusal would show as a console error), one journey per page.
Every page passes axe-core (no serious or critical violation)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from accessibility import assert_accessible
from browser_site import Site, served_site, shot
from playwright.sync_api import expect
from service_world import owner, service_account

from custos.domain.model import Role
from custos.service.campaigns.queries import listing
from custos.service.exceptions.queries import list_exceptions


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with served_site(tmp_path, accept_dialogs=True) as site:
        yield site


def test_an_exception_is_requested_refused_to_its_requester_and_approved_by_two(
    site: Site,
) -> None:
    """R-32, R-33: the requester reads why they cannot approve; two other
    approvers make the exception active."""
    world = site.world
    world.subject("sam", groups=("staff",))
    world.operator("rita", Role.REQUESTER, Role.APPROVER)
    world.operator("ada", Role.APPROVER)
    world.operator("grace", Role.APPROVER)

    rita = site.signed_in("rita")
    rita.goto(site.origin + "/")
    rita.get_by_role("navigation", name="Console").get_by_role("link", name="Exceptions").click()
    expect(rita.get_by_role("heading", name="Exceptions", exact=True)).to_be_visible()
    assert_accessible(rita)
    rita.get_by_label("Reason", exact=True).fill("manager on leave until Friday")
    rita.get_by_label("Ticket reference").fill("CHG-1042")
    rita.get_by_label("These subjects").check()
    rita.get_by_label("Subject ids (separated by spaces or commas)").fill("sam")
    rita.get_by_label("It relaxes").select_option("approvals")
    rita.get_by_label("Value").fill("1")
    ends = world.clock.now() + timedelta(hours=48)
    rita.get_by_label("Ends (UTC)").fill(ends.strftime("%Y-%m-%dT%H:%M"))
    rita.get_by_role("button", name="Request the exception").click()
    expect(
        rita.get_by_text("The exception is requested and recorded in the ledger.")
    ).to_be_visible()
    expect(
        rita.get_by_text("You requested this exception: two other people must approve it.")
    ).to_be_visible()
    expect(rita.get_by_role("button", name="Approve the exception")).to_have_count(0)
    assert_accessible(rita)
    expect(rita.get_by_text("CHG-1042")).to_be_visible()
    shot(rita, "console-exception")
    [view] = list_exceptions(world.svc, None)
    exception_id = view.record.id

    for name in ("ada", "grace"):
        page = site.signed_in(name)
        page.goto(f"{site.origin}/console/exceptions?status=pending")
        page.get_by_role("link", name=exception_id).click()
        page.get_by_role("button", name="Approve the exception").click()
        expect(page.get_by_text("Your approval is recorded in the ledger.")).to_be_visible()
        assert_accessible(page)
    expect(page.get_by_text("Two people approved it: it is active.")).to_be_visible()
    page.goto(f"{site.origin}/console/exceptions?status=active")
    expect(page.get_by_role("link", name=exception_id)).to_be_visible()
    assert_accessible(page)
    shot(page, "console-exceptions")


def test_a_campaign_is_started_approved_by_two_others_and_its_progress_updates_live(
    site: Site,
) -> None:
    """R-32: the starter cannot approve; after two approvals the page polls its
    progress while the worker runs the campaign, until it is finished; the
    report opens."""
    world = site.world
    for i in range(3):
        world.subject(f"ops{i}", groups=("incident-3",))
    world.operator("hana", Role.REQUESTER, Role.APPROVER, groups=("security-approvers",))
    world.operator("ada", Role.APPROVER, groups=("security-approvers",))
    world.operator("grace", Role.APPROVER, groups=("security-approvers",))

    hana = site.signed_in("hana")
    hana.goto(site.origin + "/")
    hana.get_by_role("navigation", name="Console").get_by_role("link", name="Campaigns").click()
    expect(hana.get_by_role("heading", name="Incident campaigns")).to_be_visible()
    assert_accessible(hana)
    hana.get_by_label("Group").fill("incident-3")
    hana.get_by_label("Action").select_option("force-reset")
    hana.get_by_label("Reason").fill("phishing wave")
    hana.get_by_label("Incident ticket").fill("INC-3")
    hana.get_by_role("button", name="Start the campaign").click()
    expect(hana.get_by_text("The campaign is started and recorded in the ledger.")).to_be_visible()
    expect(
        hana.get_by_text("You started this campaign: two other people must approve it.")
    ).to_be_visible()
    assert_accessible(hana)
    [campaign] = listing(world.svc, world.operators["hana"])

    for name in ("ada", "grace"):
        page = site.signed_in(name)
        page.goto(f"{site.origin}/console/campaigns/{campaign.id}")
        page.get_by_label("Why you approve").fill("contain the wave")
        page.get_by_role("button", name="Approve the campaign").click()
        expect(page.get_by_text("Your approval is recorded in the ledger.")).to_be_visible()
    expect(page.get_by_text("— updating live")).to_be_visible()
    assert_accessible(page)
    shot(page, "console-campaign-running")

    world.drain(passes=40)
    # The polled progress sees the campaign finished and the page reloads.
    counts = page.locator("#counts")
    expect(counts).to_contain_text(re.compile(r"Done\s*3"), timeout=15_000)
    expect(page.get_by_text("— updating live")).to_have_count(0, timeout=15_000)
    expect(page.get_by_text("finished", exact=True)).to_be_visible()
    assert_accessible(page)
    shot(page, "console-campaign-finished")
    page.get_by_role("link", name="report (HTML)").click()
    expect(page.get_by_role("heading", name=f"Campaign {campaign.id}")).to_be_visible()
    expect(page.get_by_role("cell", name="ops2").first).to_be_visible()


def test_service_accounts_are_listed_checked_and_an_owner_departs(site: Site) -> None:
    """R-39, R-40, R-42: the auditor reads owners, schedule and flags and checks
    logons; the admin records a departure and the accounts pass to the
    successor with a rotation case each."""
    world = site.world
    world.operator("hr", Role.ADMIN)
    world.operator("audrey", Role.AUDITOR)
    for person in ("ana", "bo"):
        owner(world, person)
    service_account(world, "svc-backup", ("ana",), age=timedelta(days=100))
    service_account(world, "svc-orphan", ())

    audrey = site.signed_in("audrey")
    audrey.goto(site.origin + "/")
    audrey.get_by_role("navigation", name="Console").get_by_role(
        "link", name="Service accounts"
    ).click()
    expect(audrey.get_by_role("heading", name="Service and shared accounts")).to_be_visible()
    expect(audrey.get_by_role("cell", name="unowned no owner on record")).to_be_visible()
    assert_accessible(audrey)
    audrey.get_by_role("button", name="Check logons of svc-backup").click()
    expect(audrey.get_by_role("heading", name="Logons of svc-backup")).to_be_visible()
    expect(audrey.get_by_text("the connector for 'directory' cannot report logons")).to_be_visible()
    assert_accessible(audrey)
    shot(audrey, "console-service-accounts")

    hr = site.signed_in("hr")
    hr.goto(site.origin + "/console/service-accounts")
    hr.get_by_label("Owner who left").select_option("ana")
    hr.get_by_label("Successor (subject id of a person)").fill("bo")
    hr.get_by_label("Reason (HR reference)").fill("HR-4711 left the company")
    hr.get_by_role("button", name="Transfer and rotate").click()
    expect(hr.get_by_text("The departure is recorded in the ledger")).to_be_visible()
    expect(hr.get_by_text("rotation case open", exact=True)).to_be_visible()
    assert_accessible(hr)
