"""Auditors in the console (docs/console.md#audit): a case's timeline, the
evidence pack exported and verified by the same verifier as ``custos evidence
verify`` (the downloaded bytes verify offline), the ledger's state as the
ledger holds it, and the compliance report for a chosen period (R-35, R-38)."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from approval_world import world_on
from console_helpers import console_client, csrf_of, sign_in
from fastapi.testclient import TestClient
from recoveries import helpdesk_recovery
from sqlalchemy import func, select

from conftest import BACKENDS, World
from custos.domain.model import Role
from custos.ledger.heads import key_ring, latest_head, sign_tree_head
from custos.ledger.pack_check import verify_pack
from custos.ledger.tree_store import StoredTree
from custos.store.tables import ledger, tree_heads


@pytest.fixture
def completed(world: World) -> tuple[World, str]:
    """A help-desk recovery requested by hana, approved by linus, executed by
    edsger and validated by the worker; a ledger key; the auditor ada."""
    case_id = helpdesk_recovery(world, "carl", minutes=3)
    world.drain()
    key_ring(world.svc).ensure(world.clock.now())
    world.operator("ada", Role.AUDITOR)
    return world, case_id


@pytest.fixture
def auditor(completed: tuple[World, str]) -> Iterator[TestClient]:
    world, _ = completed
    with console_client(world) as client:
        sign_in(client, world, "ada")
        yield client


def _entries(world: World, case_id: str) -> list[dict[str, object]]:
    with world.svc.engine.connect() as conn:
        rows = conn.execute(
            select(ledger.c.canonical).where(ledger.c.case_id == case_id).order_by(ledger.c.seq)
        ).scalars()
        return [json.loads(r) for r in rows]


def _text(page: str) -> str:
    """The page's text, tags dropped and spaces folded (assertions on sentences)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_the_timeline_says_who_did_what_and_lists_every_ledger_entry(
    completed: tuple[World, str], auditor: TestClient
) -> None:
    world, case_id = completed
    page = auditor.get(f"/console/audit/cases/{case_id}")
    assert page.status_code == 200, page.text
    text = _text(page.text)
    assert "Requested hana," in text
    assert "Approved linus," in text and "caller verified by TOTP" in text
    assert "Executed edsger," in text
    assert "Validated Custos (post checks)," in text
    assert "State completed" in text
    entries = _entries(world, case_id)
    assert f"Ledger entries ({len(entries)})" in text
    rows = re.findall(r"<tr>\s*<td>(\d+)</td>", page.text)
    assert len(rows) == len(entries)
    for entry in entries:
        assert (
            '<td class="mono">' + str(entry["type"]).replace(":", ":<wbr>") + "</td>" in page.text
        )
        assert f'<time datetime="{entry["time"]}">' in page.text
    assert "the subject (Carl)" in text  # the redemption, by the subject
    assert 'action="/console/audit/cases/' + case_id + '/evidence"' in page.text


def test_a_case_outside_the_auditor_scope_answers_404_like_an_unknown_one(
    completed: tuple[World, str],
) -> None:
    world, case_id = completed
    world.operator("fin", Role.AUDITOR, scope=("finance",))
    with console_client(world) as client:
        sign_in(client, world, "fin")
        hidden = client.get(f"/console/audit/cases/{case_id}")
        unknown = client.get("/console/audit/cases/case-20260101-0000000000")
        assert hidden.status_code == unknown.status_code == 404
        assert "Error id: not_found" in hidden.text
        csrf = csrf_of(client.get("/console/audit").text)
        export = client.post(f"/console/audit/cases/{case_id}/evidence", data={"csrf": csrf})
        assert export.status_code == 404
    assert not [e for e in _entries(world, case_id) if e["type"] == "audit:evidence:exported"]


def test_audit_pages_need_a_ledger_reader(completed: tuple[World, str]) -> None:
    world, case_id = completed
    with console_client(world) as client:
        sign_in(client, world, "linus")  # an approver
        for path in (
            "/console/audit",
            f"/console/audit/cases/{case_id}",
            "/console/audit/ledger",
            "/console/audit/report",
        ):
            page = client.get(path)
            assert page.status_code == 403, path
            assert "Error id: not_authorized" in page.text, path


def test_the_evidence_pack_is_verified_and_the_download_verifies_offline(
    completed: tuple[World, str], auditor: TestClient
) -> None:
    """The page verifies the exported bytes as ``custos evidence verify`` does;
    the bytes offered for download are those, and verify with the public key."""
    world, case_id = completed
    csrf = csrf_of(auditor.get(f"/console/audit/cases/{case_id}").text)
    page = auditor.post(f"/console/audit/cases/{case_id}/evidence", data={"csrf": csrf})
    assert page.status_code == 200, page.text
    text = _text(page.text)
    assert "Verified." in text
    assert "Tree head signature valid" in text
    assert "Inclusion proofs valid" in text
    assert "does NOT verify" not in text
    link = re.search(
        r'href="data:application/zip;base64,([A-Za-z0-9+/=]+)" download="([^"]+)"', page.text
    )
    assert link, "no download link"
    assert link.group(2) == f"evidence-{case_id}.zip"
    pack = base64.b64decode(link.group(1))
    assert hashlib.sha256(pack).hexdigest() in page.text
    report = verify_pack(pack, key_ring(world.svc).active().public)
    assert report.ok, report.failures
    assert report.case_id == case_id
    assert report.head is not None
    assert f"size {report.head.tree_size}," in text
    assert report.head.root_hash in page.text
    exported = [e for e in _entries(world, case_id) if e["type"] == "audit:evidence:exported"]
    assert len(exported) == 1
    assert exported[0]["actor"] == world.operators["ada"].actor


def test_exporting_needs_the_csrf_token(completed: tuple[World, str], auditor: TestClient) -> None:
    world, case_id = completed
    refused = auditor.post(f"/console/audit/cases/{case_id}/evidence", data={"csrf": "0" * 64})
    assert refused.status_code == 403
    assert "csrf_refused" in refused.text
    assert not [e for e in _entries(world, case_id) if e["type"] == "audit:evidence:exported"]


@pytest.fixture(params=BACKENDS)
def witnessed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """A world whose signed heads go to a witness file too."""
    with world_on(request.param, tmp_path, ledger_witness_file=tmp_path / "witness.jsonl") as w:
        w.operator("ada", Role.AUDITOR)
        yield w


def test_the_ledger_page_shows_the_numbers_the_ledger_holds(witnessed: World) -> None:
    world = witnessed
    helpdesk_recovery(world, "carl")
    key_ring(world.svc).ensure(world.clock.now())
    with console_client(world) as client:
        sign_in(client, world, "ada")
        before = _text(client.get("/console/audit/ledger").text)
        assert "No tree head has been signed yet" in before
        assert "append-only file" in before
        assert "empty holds no tree head; none was signed yet" in before
        world.clock.advance(timedelta(minutes=5))
        sign_tree_head(world.svc)
        helpdesk_recovery(world, "dora")  # entries after the head
        page = client.get("/console/audit/ledger")
    assert page.status_code == 200, page.text
    with world.svc.engine.connect() as conn:
        size = StoredTree(conn).size()
        rows = conn.execute(select(func.count()).select_from(ledger)).scalar_one()
        heads = conn.execute(select(func.count()).select_from(tree_heads)).scalar_one()
        head = latest_head(conn)
    assert head is not None and size == rows
    text = _text(page.text)
    assert f'<dd id="tree-size">{size} entries</dd>' in page.text
    assert f"Signed tree heads {heads}" in text
    assert f'<dd id="head-size">{head.tree_size}</dd>' in page.text
    assert f"Not yet under a signed head {size - head.tree_size} entries" in text
    assert head.root_hash in page.text
    assert "Signature valid" in text
    assert "Matches the stored tree yes" in text
    assert "up to date holds the newest signed head" in text
    assert "The ledger was never verified in full." in text


def test_the_compliance_report_for_a_chosen_period(
    completed: tuple[World, str], auditor: TestClient
) -> None:
    world, _ = completed
    today = world.clock.now().date()
    form = auditor.get("/console/audit/report")
    assert form.status_code == 200, form.text
    assert f'value="{today - timedelta(days=29)}"' in form.text  # the last 30 days
    assert f'value="{today}"' in form.text
    assert "Controls and evidence" not in form.text
    period = {"from": str(today - timedelta(days=6)), "to": str(today)}
    page = auditor.get("/console/audit/report", params=period)
    assert page.status_code == 200, page.text
    text = _text(page.text)
    assert f"{period['from']} to {period['to']}" in text
    assert "Recoveries opened 1" in text
    assert "Completed 1" in text
    assert "Completed under dual control 100%" in text
    assert "Ledger verification verified" in text
    assert "PR.AA-01" in text
    download = auditor.get("/console/audit/report/compliance.html", params=period)
    assert download.status_code == 200
    assert download.headers["content-disposition"] == (
        f'attachment; filename="compliance-{period["from"]}-{period["to"]}.html"'
    )
    assert "Account recovery: compliance report" in download.text
    assert f"Period {period['from']}" in download.text
    pdf = auditor.get("/console/audit/report/compliance.pdf", params=period)
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    earlier = auditor.get(
        "/console/audit/report", params={"from": "2026-01-01", "to": "2026-01-31"}
    )
    assert "Recoveries opened 0" in _text(earlier.text)


def test_a_bad_period_is_refused_in_words(auditor: TestClient) -> None:
    reversed_ = auditor.get(
        "/console/audit/report", params={"from": "2026-11-30", "to": "2026-11-01"}
    )
    assert reversed_.status_code == 422
    assert "'To' is before 'From'" in html.unescape(reversed_.text)
    garbled = auditor.get("/console/audit/report", params={"from": "30.11.2026", "to": ""})
    assert garbled.status_code == 422
    assert "'From' must be a date like 2026-11-30" in html.unescape(garbled.text)


def test_the_report_needs_a_scope_of_every_subject(completed: tuple[World, str]) -> None:
    world, _ = completed
    world.operator("fin", Role.AUDITOR, scope=("finance",))
    with console_client(world) as client:
        sign_in(client, world, "fin")
        assert "needs a scope of every subject" in client.get("/console/audit").text
        page = client.get("/console/audit/report")
        assert page.status_code == 403
        assert client.get("/console/audit/report/compliance.pdf").status_code == 403
