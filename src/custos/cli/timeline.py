"""Renders a case as a readable timeline (``custos case show``, the demo tour)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from custos.service.recovery.entry_lines import describe_entry

OUTCOME_STYLE = {"success": "green", "failure": "red", "denied": "yellow"}


def case_panel(detail: dict[str, Any]) -> Panel:
    """The case as one panel: its facts, the timeline, receipts and checks."""
    names: dict[str, str] = detail.get("actors", {})

    def who(actor: str | None) -> str:
        return "-" if actor is None else names.get(actor, actor)

    head = Table.grid(padding=(0, 2))
    head.add_row("case", detail["id"])
    head.add_row("subject", f"{detail['subject']['id']} ({detail['subject']['display_name']})")
    head.add_row("state", Text(detail["state"], style="bold"))
    head.add_row("channel / tier", f"{detail['channel']} / {detail['tier']}")
    head.add_row("risk", f"{detail['risk']['score']} ({detail['risk']['band']})")
    head.add_row("policy", detail["policy_hash"])
    head.add_row("requested by", who(detail["requested_by"]))
    approvers = [who(f"operator:{a['operator']}") for a in detail["approvals"]]
    head.add_row("approved by", ", ".join(approvers) or "-")
    head.add_row("executed by", who(detail["executed_by"]))
    head.add_row("validated by", who(detail["validated_by"]))
    if detail["outcome_reason"]:
        head.add_row("outcome", detail["outcome_reason"])
    glass = detail.get("break_glass")
    if glass:
        head.add_row(
            "break-glass",
            f"{glass['exception']} by {who(glass['invoked_by'])} at {glass['at'][:16]}; "
            f"a security approver ({', '.join(glass['security_groups'])}) must approve",
        )

    events = Table(title="timeline", expand=True, box=None)
    events.add_column("time (UTC)", no_wrap=True)
    events.add_column("event", no_wrap=True)
    events.add_column("actor", no_wrap=True)
    events.add_column("detail", overflow="fold", ratio=1)
    for entry in detail["timeline"]:
        style = OUTCOME_STYLE.get(entry["outcome"], "")
        events.add_row(
            entry["time"][11:19],
            Text(entry["type"].split(":", 1)[1], style=style),
            who(entry["actor"]),
            describe_entry(entry),
        )

    receipts = Table(title="receipts", expand=True)
    for column in ("target", "account", "state", "attempts", "answer"):
        receipts.add_column(column)
    for r in detail["receipts"]:
        receipts.add_row(
            r["target"], r["account"], r["state"], str(r["attempts"]), r["answer"] or ""
        )
    checks = Table(title="post-recovery checks", expand=True)
    for column in ("check", "ran on", "account", "saw", "passed", "what it saw"):
        checks.add_column(column, overflow="fold")
    for c in detail.get("checks", []):
        checks.add_row(
            c["name"],
            c["target"],
            c["account_id"],
            c.get("verdict", ""),
            "yes" if c["passed"] else "no",
            c["detail"],
        )
    parts: list[Any] = [head, events]
    if detail["receipts"]:
        parts.append(receipts)
    if detail.get("checks"):
        parts.append(checks)
    return Panel(Group(*parts), title=f"Custos case {detail['id']}")
