"""A ledger entry of a case in one readable line, for the faces that show a
case's timeline (``custos case show``, the console's audit timeline). Pure: no I/O."""

from __future__ import annotations

from typing import Any


def describe_entry(entry: dict[str, Any]) -> str:
    """One line saying what a case's ledger entry records (a state move, the
    risk and its reasons, the tier's demands, a receipt, a check...), its reason
    appended when the line does not already say it."""
    data = entry["data"]
    kind = entry["type"]
    if kind == "case:case:state_changed":
        text = f"{data['from']} -> {data['to']}"
    elif kind == "risk:case:assessed":
        text = f"risk {data['score']} ({data['band']}): " + "; ".join(data["reasons"] or ["none"])
    elif kind == "policy:case:tier_selected":
        text = (
            f"tier {data['tier']}: {data['factors']} factor(s) of "
            f"{', '.join(data['methods'])}; {data['approvals']} approval(s)"
        )
    elif kind.startswith("propagation:receipt"):
        text = f"{data['target']}/{data['account']} attempt {data['attempt']}: {data['state']}"
    elif kind.startswith("verification:check"):
        verdict = str(data.get("verdict", "")).replace("_", " ")
        text = f"{data['check']} {verdict} on {data['target']}/{data['account']}".replace("  ", " ")
    elif kind == "proofing:case:attempted":
        text = f"{data['method']}"
    elif kind == "case:approval:granted":
        text = f"approval {data['approvals']} of {data['required']}"
    else:
        text = ", ".join(f"{k}={v}" for k, v in data.items() if not isinstance(v, (dict, list)))
    reason = entry.get("reason") or ""
    return f"{text} - {reason}" if reason and reason not in text else text
