"""The readable ``summary.md`` of an evidence pack (``custos.ledger.summary``),
rendered from a case's detail: the whole text is pinned, so that an auditor
reading a pack finds who requested, proofed, approved and executed, which
systems changed and what was checked, with stored values unable to break the
tables (pipes escaped, line breaks flattened) (R-38: evidence an auditor
verifies offline)."""

from __future__ import annotations

from typing import Any

from custos.ledger.summary import render_summary

T = "2026-11-25T09:{:02d}:00+00:00"

FULL: dict[str, Any] = {
    "id": "case-7",
    "actors": {
        "operator:op-hana": "Hana Helpdesk",
        "operator:op-linus": "Linus | Lead",
        "operator:op-blank": "",
    },
    "subject": {
        "id": "olivia",
        "display_name": "Olivia\nOwens",
        "kind": "human",
        "privileged": True,
    },
    "channel": "helpdesk",
    "reason": "lost | phone",
    "state": "completed",
    "opened_at": T.format(0),
    "updated_at": T.format(30),
    "risk": {"score": 35, "band": "medium"},
    "tier": "standard",
    "policy_hash": "sha256:ab12",
    "requested_by": "operator:op-hana",
    "proofs": [
        {"at": T.format(1), "method": "totp", "passed": True, "actor": "operator:op-hana"},
        {"at": T.format(2), "method": "email|code", "passed": False, "actor": None},
    ],
    "approvals": [
        {"operator": "op-linus", "at": T.format(10), "reason": "caller\nverified"},
        {"operator": "op-blank", "at": T.format(11), "reason": None},
    ],
    "executed_by": "operator:op-eve",
    "executed_at": T.format(20),
    "receipts": [
        {
            "target": "directory",
            "account": "olivia",
            "required": True,
            "state": "succeeded",
            "attempts": 1,
            "answer": "set|ok",
            "error": "not shown",
        },
        {
            "target": "cloud",
            "account": None,
            "required": False,
            "state": "failed",
            "attempts": 3,
            "answer": None,
            "error": "timed\nout",
        },
        {
            "target": "mail",
            "account": "o",
            "required": False,
            "state": "pending",
            "attempts": 0,
            "answer": "",
            "error": None,
        },
    ],
    "checks": [
        {
            "name": "read_back",
            "target": "directory",
            "account_id": "olivia",
            "verdict": "changed",
            "passed": True,
            "detail": "new|hash",
        },
        {
            "name": "sessions",
            "target": None,
            "account_id": "o\n1",
            "verdict": None,
            "passed": False,
            "detail": None,
        },
    ],
    "timeline": [
        {
            "seq": 4,
            "time": "t0",
            "type": "case:case:opened",
            "actor": "operator:op-hana",
            "outcome": "success",
            "reason": "opened | by desk",
        },
        {
            "seq": 9,
            "time": "t20",
            "type": "case:case:executed",
            "actor": "system:worker",
            "outcome": "success",
            "reason": None,
        },
    ],
}

HOW_TO_VERIFY = """\
## How to verify this pack

Obtain the ledger public key from a trusted channel (`custos audit keys`), then run
`custos evidence verify <pack.zip> --key <key.pem>`. It needs no database: it
re-hashes every entry, checks its inclusion proof against the signed tree head,
the head's Ed25519 signature, the policy text's hash, and that this summary and
case.json are the ones recorded in the ledger when the pack was exported.
"""

FULL_SUMMARY = (
    """\
# Evidence pack: case case-7

- Subject: Olivia Owens (olivia, human, privileged)
- Channel: helpdesk; reason: lost \\| phone
- State: **completed** (opened 2026-11-25T09:00:00+00:00, updated 2026-11-25T09:30:00+00:00)
- Risk: 35 (medium)
- Policy: tier `standard`, hash `sha256:ab12`

## Who requested

Hana Helpdesk (operator:op-hana)

## How the subject was proofed

| time | method | passed | by |
|---|---|---|---|
| 2026-11-25T09:01:00+00:00 | totp | yes | Hana Helpdesk (operator:op-hana) |
| 2026-11-25T09:02:00+00:00 | email\\|code | no | - |

## Who approved

- Linus \\| Lead (operator:op-linus) at 2026-11-25T09:10:00+00:00: caller verified
- operator:op-blank at 2026-11-25T09:11:00+00:00: -

## Who executed

operator:op-eve at 2026-11-25T09:20:00+00:00

## Which systems changed

| target | account | required | state | attempts | answer |
|---|---|---|---|---|---|
| directory | olivia | yes | succeeded | 1 | set\\|ok |
| cloud | - | no | failed | 3 | timed out |
| mail | o | no | pending | 0 | - |

## What was checked afterwards

| check | ran on | account | saw | counts as passed | what it saw |
|---|---|---|---|---|---|
| read_back | directory | olivia | changed | yes | new\\|hash |
| sessions | - | o 1 | - | no | - |

## Timeline (ledger entries)

| seq | time | event | actor | outcome | reason |
|---|---|---|---|---|---|
| 4 | t0 | case:case:opened | Hana Helpdesk (operator:op-hana) | success | opened \\| by desk |
| 9 | t20 | case:case:executed | system:worker | success | - |

"""
    + HOW_TO_VERIFY
)

BARE_SUMMARY = (
    """\
# Evidence pack: case case-7

- Subject: - (svc-1, service)
- Channel: helpdesk; reason: lost \\| phone
- State: **completed** (opened 2026-11-25T09:00:00+00:00, updated 2026-11-25T09:30:00+00:00)
- Risk: 35 (medium)
- Policy: tier `standard`, hash `sha256:ab12` (text not stored: not included)

## Who requested

subject:svc-1

## How the subject was proofed

| time | method | passed | by |
|---|---|---|---|

## Who approved

- nobody (the tier requires no approval, or none was given)

## Who executed

- at -

## Which systems changed

| target | account | required | state | attempts | answer |
|---|---|---|---|---|---|

## What was checked afterwards

| check | ran on | account | saw | counts as passed | what it saw |
|---|---|---|---|---|---|

## Timeline (ledger entries)

| seq | time | event | actor | outcome | reason |
|---|---|---|---|---|---|

"""
    + HOW_TO_VERIFY
)


def test_a_full_case_tells_every_step_with_names_and_escaped_cells() -> None:
    """R-38: every part of the story, operators named beside their actor id
    (an actor with no or an empty name shown by id alone), and stored text
    that cannot break a table: pipes escaped, line breaks flattened, missing
    values shown as "-"; the answer of a receipt wins over its error."""
    assert render_summary(FULL, policy_included=True) == FULL_SUMMARY


def test_a_bare_case_says_nobody_approved_and_that_the_policy_text_is_missing() -> None:
    """A detail without an ``actors`` map, a service subject that is not
    privileged, no approval, proof, receipt, check or execution, and a policy
    whose text the pack does not include."""
    bare = {key: value for key, value in FULL.items() if key != "actors"}
    bare.update(
        subject={"id": "svc-1", "display_name": None, "kind": "service", "privileged": False},
        requested_by="subject:svc-1",
        approvals=[],
        executed_by="",
        executed_at=None,
        proofs=[],
        receipts=[],
        checks=[],
        timeline=[],
    )
    assert render_summary(bare, policy_included=False) == BARE_SUMMARY
