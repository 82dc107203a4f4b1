"""The two link pages that show a secret once, in a real browser: an owner
retrieves a rotated service-account value from /service-secret, an owner of a
shared account reveals its new password from /shared. Each reads its token
from the fragment (it leaves the address bar), posts nothing before the
click, shows the value once, and a second opening of the spent link says so
(R-17, R-40). The three link pages share ``portal.linkAction`` (portal.js);
/repudiate is driven in test_portal_link_pages.py."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from accessibility import assert_accessible
from playwright.sync_api import expect
from portal_browser import Portal, open_portal
from service_world import owner, rotate, service_account

from custos.domain.model import Role, SubjectKind
from custos.service.recovery import cases

WAIT = 15_000


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    with open_portal(tmp_path) as site:
        yield site


def open_link(portal: Portal, url: str, path: str) -> None:
    portal.open(url[len(portal.origin) :])
    assert portal.page.url == f"{portal.origin}{path}"  # the token left the address bar


def test_an_owner_retrieves_a_rotated_service_value_once(portal: Portal) -> None:
    """R-40: the value appears only after the click and is the account's new
    password; the spent link refuses a second retrieval and the button works
    again (nothing else happens)."""
    world, page = portal.world, portal.page
    owner(world, "ana")
    service_account(world, "svc-api", ("ana",))
    rotate(world, "ana", "svc-api")
    world.drain()
    url = portal.emailed_url("ana@example.org", "service_secret_link", "/service-secret")

    open_link(portal, url, "/service-secret")
    expect(page.locator("#with-link")).to_be_visible(timeout=WAIT)
    expect(page.locator("#value-box")).to_be_hidden()
    assert_accessible(page)
    page.get_by_role("button", name="Show the value once").click()
    expect(page.locator("#value-box")).to_be_visible(timeout=WAIT)
    expect(page.locator("#account")).to_have_text("svc-api")
    assert world.directory.authenticate("svc-api", page.locator("#value").inner_text())
    expect(page.locator("#with-link")).to_be_hidden()

    open_link(portal, url, "/service-secret")
    reveal = page.get_by_role("button", name="Show the value once")
    reveal.click()
    refused = page.locator("#status .notice.bad")
    expect(refused).to_contain_text("the value was already shown once", timeout=WAIT)
    expect(refused).to_contain_text("secret_link_invalid")
    expect(reveal).to_be_enabled()
    expect(page.locator("#value-box")).to_be_hidden()


def test_a_shared_account_owner_reveals_the_new_password_once(portal: Portal) -> None:
    """R-17, R-22: the owner's own link shows the new password after the click
    only; opened again it says the link no longer works and hides the button."""
    world, page = portal.world, portal.page
    for person in ("ana", "ben"):
        world.subject(person)
    world.subject("frontdesk", kind=SubjectKind.SHARED, with_totp=True)
    with world.svc.uow() as uow:
        desk = uow.subjects.get("frontdesk")
        assert desk is not None
        uow.subjects.update(dataclasses.replace(desk, owner="ana", owners=("ana", "ben")))
        uow.commit()
    world.operator("hana", Role.REQUESTER, person="hana")
    world.operator("linus", Role.APPROVER, person="linus")
    world.operator("edsger", Role.EXECUTOR, person="edsger")
    ops = world.operators
    case = cases.open_helpdesk_case(
        world.svc, ops["hana"], subject_id="frontdesk", reason="lost", on_behalf_of="ben"
    )
    cases.add_proof(
        world.svc, ops["hana"], case.id, method="totp", response=world.totp_now("frontdesk")
    )
    cases.approve(world.svc, ops["linus"], case.id, reason="owner asked")
    cases.execute(world.svc, ops["edsger"], case.id)
    url = portal.emailed_url("ben@example.org", "owner_link", "/shared")

    open_link(portal, url, "/shared")
    expect(page.locator("#reveal-section")).to_be_visible(timeout=WAIT)
    expect(page.locator("#shown")).to_be_hidden()
    assert_accessible(page)
    page.get_by_role("button", name="Show the new password").click()
    expect(page.locator("#status .notice.ok")).to_contain_text(
        "The new password is ready", timeout=WAIT
    )
    expect(page.locator("#account")).to_have_text("frontdesk")
    assert page.locator("#password").inner_text()
    expect(page.get_by_role("button", name="Show the new password")).to_have_count(0)

    open_link(portal, url, "/shared")
    page.get_by_role("button", name="Show the new password").click()
    expect(page.locator("#status .notice.bad")).to_contain_text(
        "This link no longer works", timeout=WAIT
    )
    expect(page.locator("#reveal-section")).to_be_hidden()


@pytest.mark.parametrize(
    ("path", "section", "says"),
    [
        ("/service-secret", "#with-link", "rotation of a service account you own"),
        ("/shared", "#reveal-section", "This page works from the link in your email."),
    ],
)
def test_a_secret_link_page_opened_without_its_link_says_so(
    portal: Portal, path: str, section: str, says: str
) -> None:
    portal.open(path)
    message = portal.page.locator("#needs-link")
    expect(message).to_be_visible(timeout=WAIT)
    expect(message).to_contain_text(says)
    expect(portal.page.locator(section)).to_be_hidden()
    assert_accessible(portal.page)
