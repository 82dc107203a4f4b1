"""Approvers' and auditors' journeys in a real browser (docs/console.md):
Debian's Chromium driven by Playwright against the app served by uvicorn, the
operator signed in with a console session cookie, the pages' CSP in force (a
refusal would show as a console error). Every page passes axe-core (no serious
or critical violation)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from accessibility import assert_accessible
from approval_world import awaiting_case
from browser_site import Site, served_site, shot
from playwright.sync_api import Dialog, expect
from recoveries import helpdesk_recovery
from sqlalchemy import select

from custos.domain.model import Role
from custos.ledger.heads import key_ring
from custos.ledger.pack_check import verify_pack
from custos.service.recovery.queries import case_detail
from custos.store.tables import ledger


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with served_site(tmp_path) as site:
        yield site


def test_an_approver_denies_a_case_from_the_inbox(site: Site) -> None:
    """The approver finds the case on the start page and in the inbox, reads
    its context, is asked to confirm, and denies it with a reason: the case ends
    and the denial is in the ledger with the reason (R-32, R-35)."""
    world = site.world
    world.operator("linus", Role.APPROVER)
    case_id = awaiting_case(world, "carl", reason="caller says the phone was stolen")
    page = site.signed_in("linus")

    page.goto(site.origin + "/")
    expect(page.get_by_role("heading", name="To approve (1)")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Approvals").click()
    expect(page.get_by_role("heading", name="Approvals", exact=True)).to_be_visible()
    assert_accessible(page)
    shot(page, "approvals-inbox")
    page.get_by_role("link", name=case_id).click()

    expect(page.get_by_role("heading", name=f"Case {case_id}")).to_be_visible()
    expect(page.get_by_text("caller says the phone was stolen")).to_be_visible()
    expect(page.get_by_role("heading", name="Approvals so far (0 of 1)")).to_be_visible()
    assert_accessible(page)
    shot(page, "approvals-case")

    # An empty reason does not leave the page (the field is required).
    page.get_by_role("button", name="Deny").click()
    expect(page.get_by_label("Reason (required)")).to_be_focused()
    assert case_detail(world.svc, None, case_id)["state"] == "awaiting_approval"

    asked: list[str] = []

    def answer(accept: bool) -> None:
        def handle(dialog: Dialog) -> None:
            asked.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        page.once("dialog", handle)

    page.get_by_label("Reason (required)").fill("the caller could not name their manager")
    answer(accept=False)
    page.get_by_role("button", name="Deny").click()
    expect(page.get_by_role("heading", name=f"Case {case_id}")).to_be_visible()
    assert case_detail(world.svc, None, case_id)["state"] == "awaiting_approval"

    answer(accept=True)
    page.get_by_role("button", name="Deny").click()
    expect(page.get_by_role("status").filter(has_text="You denied this case.")).to_be_visible()
    expect(
        page.get_by_text("This case no longer waits for a decision (it is denied).")
    ).to_be_visible()
    assert (
        asked
        == [f"Deny case {case_id}? The case ends and the subject's pending links stop working."] * 2
    )
    assert_accessible(page)

    page.get_by_role("link", name="Back to the approvals").click()
    expect(page.get_by_text("No case waits for your approval.")).to_be_visible()
    assert_accessible(page)

    assert case_detail(world.svc, None, case_id)["state"] == "denied"
    with world.svc.engine.connect() as conn:
        entries = [
            json.loads(r)
            for r in conn.execute(
                select(ledger.c.canonical).where(ledger.c.case_id == case_id)
            ).scalars()
        ]
    denial = [e for e in entries if e["data"].get("to") == "denied"]
    assert len(denial) == 1
    assert denial[0]["actor"] == world.operators["linus"].actor
    assert denial[0]["reason"] == "the caller could not name their manager"


def test_an_auditor_downloads_an_evidence_pack_and_sees_it_verified(site: Site) -> None:
    """From the audit page to the case's timeline; the export is verified on the
    page, and the file the browser saves is those bytes and verifies offline
    with the ledger's public key (R-38). The ledger status and the compliance
    report pages open as well."""
    world = site.world
    case_id = helpdesk_recovery(world, "carl", minutes=4)
    world.drain()
    key = key_ring(world.svc).ensure(world.clock.now())
    world.operator("ada", Role.AUDITOR)
    page = site.signed_in("ada")

    page.goto(site.origin + "/console/audit")
    assert_accessible(page)
    page.get_by_label("Case id").fill(case_id)
    page.get_by_role("button", name="Show the timeline").click()
    expect(page.get_by_role("heading", name=f"Timeline of case {case_id}")).to_be_visible()
    expect(page.get_by_role("heading", name="Who did what")).to_be_visible()
    assert_accessible(page)
    shot(page, "audit-timeline")

    page.get_by_role("button", name="Export and verify the evidence pack").click()
    expect(page.locator("#verdict")).to_contain_text("Verified.")
    expect(page.get_by_text("does NOT verify")).to_have_count(0)
    assert_accessible(page)
    shot(page, "audit-evidence")
    shown = page.locator("#pack-sha256").inner_text().strip()

    with page.expect_download() as download_info:
        page.get_by_role("link", name=f"Download evidence-{case_id}.zip").click()
    download = download_info.value
    assert download.suggested_filename == f"evidence-{case_id}.zip"
    saved = Path(download.path()).read_bytes()
    assert hashlib.sha256(saved).hexdigest() == shown
    report = verify_pack(saved, key.public)
    assert report.ok, report.failures
    assert report.case_id == case_id

    page.goto(site.origin + "/console/audit/ledger")
    expect(page.get_by_role("heading", name="Last signed tree head")).to_be_visible()
    assert report.head is not None
    expect(page.locator("#head-root")).to_have_text(report.head.root_hash)
    assert_accessible(page)
    shot(page, "audit-ledger")

    page.goto(site.origin + "/console/audit/report")
    assert_accessible(page)
    page.get_by_role("button", name="Show the report").click()
    expect(page.get_by_role("heading", name="Controls and evidence")).to_be_visible()
    assert_accessible(page)
    shot(page, "audit-report")
    with page.expect_download() as pdf_info:
        page.get_by_role("link", name="Download PDF").click()
    assert Path(pdf_info.value.path()).read_bytes().startswith(b"%PDF")
