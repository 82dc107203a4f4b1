"""The readable ``summary.md`` of an evidence pack, rendered from a case's
detail (``service.queries.case_detail``). Pure: no I/O."""

from __future__ import annotations

from typing import Any


def _md(value: object) -> str:
    """Table-cell safe text: no pipes or line breaks from stored values."""
    return str(value if value is not None else "-").replace("|", "\\|").replace("\n", " ")


def _who(detail: dict[str, Any], actor: str | None) -> str:
    if not actor:
        return "-"
    name = detail.get("actors", {}).get(actor)
    return f"{name} ({actor})" if name else actor


def render_summary(detail: dict[str, Any], *, policy_included: bool) -> str:
    """Markdown answering: who requested, how the subject was proofed, who
    approved, who executed, which systems changed, what was checked after, and
    under which policy."""
    subject = detail["subject"]
    lines = [
        f"# Evidence pack: case {detail['id']}",
        "",
        f"- Subject: {_md(subject['display_name'])} ({_md(subject['id'])}, {subject['kind']}"
        f"{', privileged' if subject['privileged'] else ''})",
        f"- Channel: {detail['channel']}; reason: {_md(detail['reason'])}",
        f"- State: **{detail['state']}** (opened {detail['opened_at']}, "
        f"updated {detail['updated_at']})",
        f"- Risk: {detail['risk']['score']} ({detail['risk']['band']})",
        f"- Policy: tier `{detail['tier']}`, hash `{detail['policy_hash']}`"
        + ("" if policy_included else " (text not stored: not included)"),
        "",
        "## Who requested",
        "",
        f"{_who(detail, detail['requested_by'])}",
        "",
        "## How the subject was proofed",
        "",
        "| time | method | passed | by |",
        "|---|---|---|---|",
        *(
            f"| {p['at']} | {_md(p['method'])} | {'yes' if p['passed'] else 'no'} | "
            f"{_md(_who(detail, p['actor']))} |"
            for p in detail["proofs"]
        ),
        "",
        "## Who approved",
        "",
        *(
            f"- {_md(_who(detail, 'operator:' + a['operator']))} at {a['at']}: {_md(a['reason'])}"
            for a in detail["approvals"]
        ),
        *(
            ["- nobody (the tier requires no approval, or none was given)"]
            if not detail["approvals"]
            else []
        ),
        "",
        "## Who executed",
        "",
        f"{_who(detail, detail['executed_by'])} at {detail['executed_at'] or '-'}",
        "",
        "## Which systems changed",
        "",
        "| target | account | required | state | attempts | answer |",
        "|---|---|---|---|---|---|",
        *(
            f"| {_md(r['target'])} | {_md(r['account'])} | {'yes' if r['required'] else 'no'} | "
            f"{r['state']} | {r['attempts']} | {_md(r['answer'] or r['error'])} |"
            for r in detail["receipts"]
        ),
        "",
        "## What was checked afterwards",
        "",
        "| check | ran on | account | saw | counts as passed | what it saw |",
        "|---|---|---|---|---|---|",
        *(
            f"| {_md(c['name'])} | {_md(c['target'])} | {_md(c['account_id'])} | "
            f"{_md(c['verdict'])} | {'yes' if c['passed'] else 'no'} | {_md(c['detail'])} |"
            for c in detail["checks"]
        ),
        "",
        "## Timeline (ledger entries)",
        "",
        "| seq | time | event | actor | outcome | reason |",
        "|---|---|---|---|---|---|",
        *(
            f"| {e['seq']} | {e['time']} | {e['type']} | {_md(_who(detail, e['actor']))} | "
            f"{e['outcome']} | {_md(e['reason'])} |"
            for e in detail["timeline"]
        ),
        "",
        "## How to verify this pack",
        "",
        "Obtain the ledger public key from a trusted channel (`custos audit keys`), then run",
        "`custos evidence verify <pack.zip> --key <key.pem>`. It needs no database: it",
        "re-hashes every entry, checks its inclusion proof against the signed tree head,",
        "the head's Ed25519 signature, the policy text's hash, and that this summary and",
        "case.json are the ones recorded in the ledger when the pack was exported.",
        "",
    ]
    return "\n".join(lines)
