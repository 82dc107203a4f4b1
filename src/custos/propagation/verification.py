"""Post-recovery checks, per succeeded receipt: ``read_back`` (the target reports
a password change at or after the redemption), ``sessions_revoked`` (every
session ended where the target can do it, R-24, R-25), ``mfa_bound`` (the
subject still has a second factor; checked from Custos's own enrolments)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from datetime import datetime, timedelta

from custos.connectors.errors import ConnectorError, UnknownAccount
from custos.connectors.registry import ConnectorRegistry
from custos.connectors.spi import (
    ReadPasswordChangedManyOp,
    ReadPasswordChangedOp,
    RevokeSessionsOp,
)
from custos.store.receipt_repository import Receipt

#: Clocks of directories drift; a read-back within this margin still counts.
CLOCK_SKEW = timedelta(seconds=5)


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    target: str
    account_id: str
    passed: bool
    detail: str


def run_checks(
    registry: ConnectorRegistry,
    names: tuple[str, ...],
    receipts: list[Receipt],
    *,
    since: datetime,
) -> list[CheckResult]:
    results: list[CheckResult] = []
    for receipt in receipts:
        for name in names:
            check = _CHECKS.get(name)
            if check is None:
                continue  # checks on the subject rather than on a target run elsewhere
            results.append(check(registry, receipt, since))
    return results


@dataclass(frozen=True, slots=True)
class CaseChecks:
    """The checks one case asks for: on each succeeded receipt, since when."""

    case_id: str
    names: tuple[str, ...]
    receipts: list[Receipt]
    since: datetime


def run_checks_many(
    registry: ConnectorRegistry, work: Sequence[CaseChecks], *, pool: Executor
) -> dict[str, list[CheckResult]]:
    """``run_checks`` for many cases, with the same results in the same order.
    Read-backs on a target that reads many accounts at once cost one call per
    target (in as few requests as the target allows); every other check that
    needs the target runs on ``pool``'s threads."""
    wanted = accounts_by_target(
        r for item in work if "read_back" in item.names for r in item.receipts
    )
    bulk = read_back_many(registry, wanted, pool)
    planned: list[tuple[str, CheckResult | Callable[[], CheckResult]]] = []
    for item in work:
        for receipt in item.receipts:
            for name in item.names:
                check = _CHECKS.get(name)
                if check is None:
                    continue  # checks on the subject rather than on a target run elsewhere
                verdict = _without_io(registry, name, receipt, item.since, bulk)
                planned.append(
                    (item.case_id, verdict or _bind(check, registry, receipt, item.since))
                )
    results: dict[str, list[CheckResult]] = {item.case_id: [] for item in work}
    futures: list[tuple[str, CheckResult | Future[CheckResult]]] = [
        (case_id, pool.submit(p) if callable(p) else p) for case_id, p in planned
    ]
    for case_id, done in futures:
        results[case_id].append(done.result() if isinstance(done, Future) else done)
    return results


def judge_now(
    registry: ConnectorRegistry, item: CaseChecks, bulk: dict[str, ReadBack]
) -> list[CheckResult] | None:
    """Every check of one case, as ``run_checks`` would give them, when none
    needs a call to a target any more (read-backs already read in ``bulk``,
    session checks on targets that keep none); None otherwise."""
    results: list[CheckResult] = []
    for receipt in item.receipts:
        for name in item.names:
            if name not in _CHECKS:
                continue
            verdict = _without_io(registry, name, receipt, item.since, bulk)
            if verdict is None:
                return None
            results.append(verdict)
    return results


def _without_io(
    registry: ConnectorRegistry,
    name: str,
    receipt: Receipt,
    since: datetime,
    bulk: dict[str, ReadBack],
) -> CheckResult | None:
    if name == "read_back":
        answer = bulk.get(receipt.target)
        return None if answer is None else _judge_read_back(receipt, answer, since)
    if (
        name == "sessions_revoked"
        and registry.has(receipt.target)
        and not registry.offers(receipt.target, "revoke_sessions")
    ):
        return _no_sessions(receipt)
    return None


def _bind(
    check: Callable[[ConnectorRegistry, Receipt, datetime], CheckResult],
    registry: ConnectorRegistry,
    receipt: Receipt,
    since: datetime,
) -> Callable[[], CheckResult]:
    return lambda: check(registry, receipt, since)


ReadBack = dict[str, datetime | None] | ConnectorError


def accounts_by_target(receipts: Iterable[Receipt]) -> dict[str, set[str]]:
    """The accounts of ``receipts``, per target."""
    found: dict[str, set[str]] = {}
    for receipt in receipts:
        found.setdefault(receipt.target, set()).add(receipt.account_id)
    return found


def read_back_many(
    registry: ConnectorRegistry, accounts: dict[str, set[str]], pool: Executor
) -> dict[str, ReadBack]:
    """For each target in ``accounts`` that can read many accounts at once: the
    change times of those accounts, or the error that stopped the read as a
    whole. Other targets are absent (their read-backs go one by one)."""
    able = [name for name in accounts if registry.offers(name, "read_password_changed_many")]

    def read(name: str) -> tuple[str, ReadBack]:
        connector = registry.get(name).connector
        assert isinstance(connector, ReadPasswordChangedManyOp)
        try:
            return name, connector.passwords_changed_at(sorted(accounts[name]))
        except ConnectorError as exc:
            return name, exc

    if len(able) <= 1:
        return dict(read(name) for name in able)
    return dict(pool.map(read, able))


def _read_back(registry: ConnectorRegistry, receipt: Receipt, since: datetime) -> CheckResult:
    target = registry.get(receipt.target)
    if "read_password_changed" not in target.capabilities:
        return _result(
            "read_back", receipt, False, "the target cannot report password-change times"
        )
    connector = target.connector
    assert isinstance(connector, ReadPasswordChangedOp)
    try:
        changed = connector.password_changed_at(receipt.account_id)
    except ConnectorError as exc:
        return _result("read_back", receipt, False, f"read-back failed: {exc.answer}")
    return _judge_read_back(receipt, {receipt.account_id: changed}, since)


def _judge_read_back(receipt: Receipt, answer: ReadBack, since: datetime) -> CheckResult:
    """The read-back verdict on one account from what its target answered."""
    if isinstance(answer, ConnectorError):
        return _result("read_back", receipt, False, f"read-back failed: {answer.answer}")
    if receipt.account_id not in answer:
        missing = UnknownAccount(
            f"no account '{receipt.account_id}' in directory '{receipt.target}'"
        )
        return _result("read_back", receipt, False, f"read-back failed: {missing.answer}")
    changed = answer[receipt.account_id]
    if changed is None or changed < since - CLOCK_SKEW:
        when = changed.isoformat() if changed else "never"
        return _result(
            "read_back", receipt, False, f"password last changed {when}, before the recovery"
        )
    return _result("read_back", receipt, True, f"password changed at {changed.isoformat()}")


def _no_sessions(receipt: Receipt) -> CheckResult:
    return _result(
        "sessions_revoked",
        receipt,
        True,
        "not applicable: the target keeps no sessions Custos can end",
    )


def _sessions(registry: ConnectorRegistry, receipt: Receipt, since: datetime) -> CheckResult:
    del since
    target = registry.get(receipt.target)
    if "revoke_sessions" not in target.capabilities:
        return _no_sessions(receipt)
    connector = target.connector
    assert isinstance(connector, RevokeSessionsOp)
    try:
        ended = connector.revoke_sessions(receipt.account_id)
    except ConnectorError as exc:
        return _result("sessions_revoked", receipt, False, f"revocation failed: {exc.answer}")
    return _result("sessions_revoked", receipt, True, f"{ended} session(s) ended")


def _result(name: str, receipt: Receipt, passed: bool, detail: str) -> CheckResult:
    return CheckResult(
        name=name,
        target=receipt.target,
        account_id=receipt.account_id,
        passed=passed,
        detail=detail,
    )


_CHECKS = {"read_back": _read_back, "sessions_revoked": _sessions}
