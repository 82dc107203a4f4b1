"""Accessibility checks of pages in the browser tests: axe-core (npm, installed in
tests/node by ``scripts/test``) injected into the page by Playwright.

Custos's pages allow no inline script (their CSP), so axe-core is not added as a
``<script>`` element: its source is evaluated through the DevTools protocol,
which the page's CSP does not govern. Browser contexts keep their CSP, so the
same tests still see a CSP violation. A missing axe-core fails the test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

AXE = Path(__file__).resolve().parent / "node" / "node_modules" / "axe-core" / "axe.min.js"
#: Violations at these impacts fail the test (axe's impacts: minor, moderate, serious, critical).
FAILING_IMPACTS = frozenset({"serious", "critical"})


def violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on ``page`` as it is now, every impact."""
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run npm ci --prefix tests/node")
    loaded = page.evaluate(AXE.read_text(encoding="utf-8") + "\n;typeof window.axe")
    if loaded != "object":
        pytest.fail(f"axe-core did not load into {page.url} (window.axe is {loaded})")
    result: dict[str, Any] = page.evaluate(
        "async () => JSON.parse(JSON.stringify(await window.axe.run(document)))"
    )
    found: list[dict[str, Any]] = result["violations"]
    return found


def assert_accessible(page: Page) -> None:
    """Fail listing every serious or critical axe-core violation on ``page``."""
    failing = [v for v in violations(page) if v.get("impact") in FAILING_IMPACTS]
    if failing:
        lines = [f"{len(failing)} serious or critical accessibility violation(s) on {page.url}:"]
        for v in failing:
            targets = ", ".join(" ".join(map(str, n["target"])) for n in v["nodes"][:5])
            lines.append(f"- [{v['impact']}] {v['id']}: {v['help']} ({targets}) {v['helpUrl']}")
        pytest.fail("\n".join(lines))
