"""Screenshots of the main pages for docs/screenshots/ (shown in the README).

Runs a demo on a scratch data folder, plays the guided tour against it (so there
are cases in every state), opens a console session for each seeded operator it
needs straight through the service, as the sign-in page does after a complete
sign-in, and photographs each page in Debian's Chromium at 1280 pixels wide.

    uv run --frozen --all-extras --all-groups python scripts/screenshots.py [OUT_DIR]
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"

#: (file, operator or None for a subject's page, path)
SHOTS: list[tuple[str, str | None, str]] = [
    ("console-start-approver.png", "approver.ada", "/"),
    ("console-subjects.png", "helpdesk.hana", "/console/subjects?q=a"),
    ("console-cases.png", "auditor.barbara", "/console/cases"),
    ("console-audit-ledger.png", "auditor.barbara", "/console/audit/ledger"),
    ("console-admin-policy.png", "admin.margaret", "/console/admin/policy"),
    ("console-admin-connectors.png", "admin.margaret", "/console/admin/connectors"),
    ("console-sign-in.png", None, "/console/sign-in"),
    ("console-admin-operators.png", "admin.margaret", "/console/admin/operators"),
    ("api-docs.png", None, "/api/v1/docs"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def custos(data: Path, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "custos"), "--data-dir", str(data), *args]
    return subprocess.run(command, text=True, capture_output=True, check=True, **kwargs)  # type: ignore[call-overload]  # noqa: S603


def sessions_for(data: Path, names: set[str]) -> dict[str, str]:
    """A console session token per operator name, opened through the service."""
    from custos.bootstrap import bootstrap
    from custos.config import load_settings
    from custos.service.console import sessions

    svc = bootstrap(load_settings(None, data_dir=data), migrate=False)
    with svc.uow(read_only=True) as uow:
        ids = {op.name: op.id for op in uow.operators.all()}
    return {
        name: sessions.open_session(svc, ids[name], method="password", source="127.0.0.1")
        for name in names
    }


def case_shots(data: Path) -> list[tuple[str, str | None, str]]:
    """The case page and audit timeline of the tour's help-desk case, and a new
    help-desk case proofed by TOTP that waits for an approver."""
    import json

    import pyotp

    from custos.bootstrap import bootstrap
    from custos.config import load_settings
    from custos.domain.states import CaseState
    from custos.service.recovery import cases
    from custos.service.recovery.queries import list_cases

    svc = bootstrap(load_settings(None, data_dir=data), migrate=False)
    shots: list[tuple[str, str | None, str]] = []
    helpdesk = [c for c in list_cases(svc, None) if c["channel"] == "helpdesk"]
    if helpdesk:
        done = helpdesk[0]["id"]
        shots += [
            ("console-case.png", "executor.edsger", f"/console/cases/{done}"),
            ("console-audit-case.png", "auditor.barbara", f"/console/audit/cases/{done}"),
        ]
    totp = json.loads((data / "demo-subject-secrets.json").read_text())["totp"]
    with svc.uow(read_only=True) as uow:
        hana = next(op for op in uow.operators.all() if op.name == "helpdesk.hana")
        # Contractors' help-desk recoveries need one approver (the shipped policy).
        staff = [
            s for s in totp if (sub := uow.subjects.get(s)) and str(sub.employment) == "contractor"
        ]
    busy = {c["subject_id"] for c in list_cases(svc, None)}
    subject = next(s for s in staff if s not in busy)
    case = cases.open_helpdesk_case(
        svc, hana, subject_id=subject, reason="new phone, authenticator not moved yet"
    )
    code = pyotp.TOTP(totp[subject]).now()
    state = cases.add_proof(svc, hana, case.id, method="totp", response=code).state
    if state == CaseState.AWAITING_APPROVAL:
        shots += [
            ("console-approvals.png", "approver.linus", "/console/approvals"),
            ("console-approval.png", "approver.linus", f"/console/approvals/{case.id}"),
            ("console-start-helpdesk.png", "helpdesk.hana", "/"),
        ]
    return shots


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch)
        env = {**os.environ, "COLUMNS": "200"}
        demo = subprocess.Popen(  # noqa: S603 (our own custos command)
            [
                str(Path(sys.executable).parent / "custos"),
                "--data-dir",
                str(data),
                "demo",
                "--port",
                str(port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or demo.poll() is not None:
                    raise SystemExit("the demo did not start")
                time.sleep(0.5)
            custos(data, "demo", "--tour", env=env, timeout=600)
            shots = SHOTS + case_shots(data)
            tokens = sessions_for(data, {who for _, who, _ in shots if who})
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                for name, who, path in shots:
                    context = browser.new_context(viewport={"width": 1280, "height": 800})
                    if who:
                        context.add_cookies(
                            [{"name": "custos_console", "value": tokens[who], "url": base}]
                        )
                    page = context.new_page()
                    page.goto(base + path)
                    page.wait_for_load_state("networkidle")
                    page.screenshot(path=str(out / name), full_page=False)
                    context.close()
                    print(f"{out / name}")
                browser.close()
        finally:
            demo.terminate()
            demo.wait(timeout=30)


if __name__ == "__main__":
    main()
