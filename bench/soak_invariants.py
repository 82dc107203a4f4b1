"""What the soak bench proves after the load: nothing lost, nothing doubled.

* every case is final, or was left between two human steps by a flow the
  load's journal shows unfinished (accounted for); none is stuck in
  executing or verifying, and every case the load redeemed completed;
* every self-service case is the one its flow names (one request, one case);
* every receipt is final;
* every password write the directory received (counted by a database
  trigger, outside Custos) belongs to a succeeded receipt: writes per
  account equal succeeded receipts per account, and the account's password
  is the one chosen at its last redemption. The one allowance: a receipt the
  SIGKILLed worker held at the kill may have been written without being
  recorded; the worker that takes it over writes the same secret again
  (at least once, by design), so such an account may show one write more
  per receipt held then. Any other extra write is a violation (a lease that
  ran out under a live worker, a doubled case);
* ``custos audit verify`` passes (checked by the caller)."""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, create_engine, text

FINAL_CASES = {"completed", "denied", "expired", "cancelled", "blocked", "needs_attention"}
IN_PROPAGATION = {"executing", "verifying"}
FINAL_RECEIPTS = {"succeeded", "failed"}


@dataclass
class Journal:
    """What the load did, flow by flow (bench/soak_locustfile.py)."""

    ended: dict[int, dict[str, Any]] = field(default_factory=dict)
    begun: dict[int, dict[str, Any]] = field(default_factory=dict)
    passwords: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    cases: dict[int, str] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> Journal:
        j = cls()
        if not path.exists():
            return j
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = json.loads(raw)
            flow = int(line["flow"])
            if line["event"] == "begin":
                j.begun[flow] = line
            elif line["event"] == "end":
                j.ended[flow] = line
                if line.get("case"):
                    j.cases[flow] = line["case"]
            elif line["event"] == "case":
                j.cases[flow] = line["case"]
            elif line["event"] == "redeem":
                j.passwords[line["subject"]].append(line["password"])
        return j

    def outcomes(self) -> Counter[str]:
        done = Counter(str(line["outcome"]).split(":")[0] for line in self.ended.values())
        done["stopped_mid_flow"] = len(set(self.begun) - set(self.ended))
        return done

    def unfinished_subjects(self) -> set[str]:
        """Subjects of flows that did not end in a redemption, a denial or nothing at all."""
        closed = {"redeemed", "denied", "unknown_account"}
        return {
            str(b["subject"])
            for flow, b in self.begun.items()
            if b.get("subject") and self.ended.get(flow, {}).get("outcome") not in closed
        }


def drain(engine: Engine, timeout_s: float) -> float:
    """Wait until no receipt is due and no case is propagating; returns the seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        with engine.connect() as conn:
            busy = conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM receipts"
                    " WHERE state NOT IN ('succeeded','failed'))"
                    " + (SELECT count(*) FROM cases WHERE state IN ('executing','verifying'))"
                )
            ).scalar_one()
        if busy == 0:
            break
        time.sleep(1)
    return time.monotonic() - start


def held_by(url: str, pid: int) -> list[str]:
    """Accounts of the unfinished receipts whose lease the worker process
    ``pid`` held (its owner is ``host:pid:...``), read right after its SIGKILL."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    text(
                        "SELECT account_id FROM receipts WHERE lease_owner LIKE :owner"
                        " AND state NOT IN ('succeeded','failed')"
                    ),
                    {"owner": f"%:{pid}:%"},
                ).scalars()
            )
    finally:
        engine.dispose()


def check(engine: Engine, journal: Journal, in_flight: list[str] | None = None) -> dict[str, Any]:
    """The invariants' figures and the list of violations (empty when all hold).
    ``in_flight``: the accounts of receipts the killed worker held (one entry
    per receipt)."""
    with engine.connect() as conn:
        cases = {
            r.id: (r.state, r.subject_id)
            for r in conn.execute(text("SELECT id, state, subject_id FROM cases"))
        }
        receipts: Counter[str] = Counter(
            dict(conn.execute(text("SELECT state, count(*) FROM receipts GROUP BY state")).all())
        )
        succeeded: Counter[str] = Counter(
            dict(
                conn.execute(
                    text(
                        "SELECT account_id, count(*) FROM receipts WHERE state = 'succeeded'"
                        " GROUP BY account_id"
                    )
                ).all()
            )
        )
        # A self-service case is opened for its flow and recorded on it; one
        # that no flow names is a second case for one request (doubled).
        orphans = list(
            conn.execute(
                text(
                    "SELECT c.id FROM cases c WHERE c.channel = 'self_service' AND NOT EXISTS"
                    " (SELECT 1 FROM self_service_flows f WHERE f.case_id = c.id)"
                )
            ).scalars()
        )
        writes: dict[str, list[str]] = defaultdict(list)
        for row in conn.execute(
            text("SELECT account_id, password_hash FROM soak_password_writes ORDER BY seq")
        ):
            writes[row.account_id].append(row.password_hash)
    violations: list[str] = []
    by_state = Counter(state for state, _ in cases.values())
    unfinished = journal.unfinished_subjects()
    open_cases = [(cid, s, sub) for cid, (s, sub) in cases.items() if s not in FINAL_CASES]
    stuck = [cid for cid, s, _ in open_cases if s in IN_PROPAGATION]
    unaccounted = [
        cid for cid, s, sub in open_cases if s not in IN_PROPAGATION and sub not in unfinished
    ]
    if stuck:
        violations.append(f"{len(stuck)} case(s) still propagating after the drain: {stuck[:5]}")
    if unaccounted:
        violations.append(
            f"{len(unaccounted)} open case(s) no unfinished flow explains: {unaccounted[:5]}"
        )
    if orphans:
        violations.append(
            f"{len(orphans)} self-service case(s) no flow names (doubled): {orphans[:5]}"
        )
    redeemed = [
        c for f, c in journal.cases.items() if journal.ended.get(f, {}).get("outcome") == "redeemed"
    ]
    if not redeemed:
        violations.append("no recovery was redeemed: the load proved nothing")
    lost = [c for c in redeemed if cases.get(c, ("missing",))[0] != "completed"]
    if lost:
        violations.append(f"{len(lost)} redeemed case(s) not completed: {lost[:5]}")
    not_final = {s: n for s, n in receipts.items() if s not in FINAL_RECEIPTS}
    if not_final:
        violations.append(f"receipts not final: {not_final}")
    allowed = Counter(in_flight or [])
    extra = {a: len(w) - succeeded[a] for a, w in writes.items() if len(w) != succeeded[a]}
    rewritten = {a: n for a, n in extra.items() if 0 < n <= allowed[a]}
    doubled = {a: n for a, n in extra.items() if a not in rewritten}
    doubled.update({a: -n for a, n in succeeded.items() if a not in writes})
    if doubled:
        violations.append(
            f"password writes != succeeded receipts for {len(doubled)} account(s): "
            f"{dict(list(doubled.items())[:5])}"
        )
    wrong_final = _final_passwords(writes, journal)
    if wrong_final:
        violations.append(
            f"{len(wrong_final)} account(s) whose password is not the last one chosen: "
            f"{wrong_final[:5]}"
        )
    return {
        "cases": len(cases),
        "cases_by_state": dict(sorted(by_state.items())),
        "open_cases_accounted": len(open_cases) - len(stuck) - len(unaccounted),
        "orphan_cases": len(orphans),
        "redeemed_flows": len(redeemed),
        "receipts_by_state": dict(sorted(receipts.items())),
        "password_writes": sum(len(w) for w in writes.values()),
        "succeeded_receipts": sum(succeeded.values()),
        "accounts_written": len(writes),
        "rewritten_after_kill": len(rewritten),
        "flow_outcomes": dict(sorted(journal.outcomes().items())),
        "violations": violations,
    }


def _final_passwords(writes: dict[str, list[str]], journal: Journal) -> list[str]:
    """Accounts whose last written hash is not the password of their last redemption
    attempt (argon2 verification, one per account)."""
    hasher = PasswordHasher()
    wrong = []
    for account, hashes in writes.items():
        chosen = journal.passwords.get(account) or []
        try:
            ok = bool(chosen) and hasher.verify(hashes[-1], chosen[-1])
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok:
            wrong.append(account)
    return wrong
