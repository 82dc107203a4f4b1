"""The approver's and auditor's pages keep the console's rules (docs/console.md):
served with the strict CSP and no-store, and holding nothing the CSP would
block (no inline script or style, no event handler attributes). The browser
tests check them with axe-core in a context that bypasses the CSP, so this is
where the CSP itself is kept."""

from __future__ import annotations

import re

from approval_world import awaiting_case
from console_helpers import console_client, csrf_of, sign_in
from recoveries import helpdesk_recovery

from conftest import World
from custos.domain.model import Role
from custos.ledger.heads import key_ring


def _clean(html: str, path: str) -> None:
    assert "<style" not in html, path
    assert re.search(r"\sstyle=", html) is None, path
    assert re.search(r"\son[a-z]+=", html) is None, path
    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts and all("src=" in s for s in scripts), path


def test_every_page_of_approvers_and_auditors_is_clean_under_the_csp(world: World) -> None:
    done = helpdesk_recovery(world, "carl")
    key_ring(world.svc).ensure(world.clock.now())
    waiting = awaiting_case(world, "dora")
    world.operator("ada", Role.AUDITOR, Role.APPROVER)
    with console_client(world) as client:
        sign_in(client, world, "ada")
        pages = [
            "/console/approvals",
            f"/console/approvals/{waiting}",
            "/console/cases?state=awaiting_approval",
            "/console/audit",
            f"/console/audit/cases/{done}",
            "/console/audit/ledger",
            "/console/audit/report?from=2026-11-01&to=2026-11-30",
            "/console/audit/alerts",
        ]
        for path in pages:
            answer = client.get(path)
            assert answer.status_code == 200, (path, answer.text)
            assert "unsafe-inline" not in answer.headers["content-security-policy"], path
            assert "script-src 'self'" in answer.headers["content-security-policy"], path
            assert answer.headers["cache-control"] == "no-store", path
            assert answer.headers["cross-origin-opener-policy"] == "same-origin", path
            _clean(answer.text, path)
        csrf = csrf_of(client.get(f"/console/audit/cases/{done}").text)
        export = client.post(f"/console/audit/cases/{done}/evidence", data={"csrf": csrf})
        assert export.status_code == 200
        assert export.headers["cache-control"] == "no-store"
        _clean(export.text, "evidence")
