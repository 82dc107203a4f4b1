"""The Temporary Access Pass link page in a real browser (issue 11): after a
reissue under a tier with ``temporary_access_pass`` the worker issues one pass
on the local Graph server (servers.graph), and the subject opens the emailed
link. The token leaves the address bar, nothing is posted before the click,
the pass is shown once with its lifetime, and the spent link, opened again,
says in plain words that it no longer works (R-17, R-24, R-45)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from accessibility import assert_accessible
from playwright.sync_api import expect
from portal_browser import Portal, open_portal
from reissue_world import POLICY, helpdesk_reissue
from servers.graph import GraphServer, strong_password

from custos.store.tables import linked_accounts

WAIT = 15_000
TAP_POLICY = POLICY.replace(
    "    action: reissue\n    token_ttl: 10m\n    post_checks: [read_back, sessions_revoked]\n",
    "    action: reissue\n    token_ttl: 10m\n"
    "    post_checks: [read_back, sessions_revoked]\n"
    "    temporary_access_pass: {lifetime_minutes: 45, usable_once: true}\n",
)
assert TAP_POLICY != POLICY


@pytest.fixture
def portal(tmp_path: Path, graph_server: GraphServer) -> Iterator[Portal]:
    graph_server.clear()
    policy = tmp_path / "policy.yaml"
    policy.write_text(TAP_POLICY, encoding="utf-8")
    with open_portal(
        tmp_path,
        policy_file=policy,
        targets={"directory": {"kind": "builtin"}, "entra": graph_server.target()},
    ) as site:
        yield site
    failures = list(graph_server.failures)
    graph_server.clear()
    assert failures == [], failures


def test_the_subject_sees_the_pass_once_through_the_link(
    portal: Portal, graph_server: GraphServer
) -> None:
    """R-24, R-45: the pass the worker issued on Entra is the one the page
    shows, once; R-17: the spent link is refused with its reason, and the
    page keeps no copy of the pass."""
    world, page = portal.world, portal.page
    world.subject("root", privileged=True, groups=("it-admins",), with_totp=True)
    upn = f"root-{secrets.token_hex(4)}@contoso.test"
    graph_server.add_user(upn, strong_password()).methods[str(uuid.uuid4())] = (
        "#microsoft.graph.fido2AuthenticationMethod"
    )
    with world.svc.uow() as uow:
        uow.conn.execute(
            linked_accounts.insert().values(target="entra", account_id=upn, subject_id="root")
        )
        uow.commit()
    helpdesk_reissue(world, "root")
    world.drain()
    [value] = [secret for who, _, secret in graph_server.passes_issued if who == upn]
    url = portal.emailed_url(
        "root@example.org", "temporary_access_pass_link", "/temporary-access-pass"
    )

    portal.open(url[len(portal.origin) :])
    assert page.url == f"{portal.origin}/temporary-access-pass"  # the token left the address bar
    expect(page.locator("#with-link")).to_be_visible(timeout=WAIT)
    expect(page.locator("#value-box")).to_be_hidden()
    assert value not in page.content()  # nothing fetched before the click
    assert_accessible(page)
    page.get_by_role("button", name="Show the pass once").click()
    expect(page.locator("#value-box")).to_be_visible(timeout=WAIT)
    expect(page.locator("#value")).to_have_text(value)
    expect(page.locator("#account")).to_have_text(upn)
    expect(page.locator("#lifetime")).to_have_text("45")
    expect(page.locator("#uses")).to_have_text("one sign-in")
    expect(page.locator("#with-link")).to_be_hidden()
    assert_accessible(page)

    portal.open(url[len(portal.origin) :])
    reveal = page.get_by_role("button", name="Show the pass once")
    reveal.click()
    refused = page.locator("#status .notice.bad")
    expect(refused).to_contain_text("no longer works", timeout=WAIT)
    expect(refused).to_contain_text("tap_link_invalid")
    expect(reveal).to_be_enabled()
    expect(page.locator("#value-box")).to_be_hidden()
    assert value not in page.content()


def test_the_page_opened_without_its_link_says_so(portal: Portal) -> None:
    """The page without a token in its fragment posts nothing and says where
    the link comes from."""
    portal.open("/temporary-access-pass")
    expect(portal.page.locator("#needs-link")).to_be_visible(timeout=WAIT)
    expect(portal.page.locator("#with-link")).to_be_hidden()
    assert_accessible(portal.page)
