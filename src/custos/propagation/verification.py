"""Post-recovery checks, per succeeded receipt: ``read_back`` (the target reports
a password change at or after the redemption), ``sessions_revoked`` (every
session ended where the target can do it, R-24, R-25), ``mfa_bound`` (the
subject still has a second factor; checked from Custos's own enrolments)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from custos.connectors.errors import ConnectorError
from custos.connectors.registry import ConnectorRegistry
from custos.connectors.spi import ReadPasswordChangedOp, RevokeSessionsOp
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
    if changed is None or changed < since - CLOCK_SKEW:
        when = changed.isoformat() if changed else "never"
        return _result(
            "read_back", receipt, False, f"password last changed {when}, before the recovery"
        )
    return _result("read_back", receipt, True, f"password changed at {changed.isoformat()}")


def _sessions(registry: ConnectorRegistry, receipt: Receipt, since: datetime) -> CheckResult:
    del since
    target = registry.get(receipt.target)
    if "revoke_sessions" not in target.capabilities:
        return _result(
            "sessions_revoked",
            receipt,
            True,
            "not applicable: the target keeps no sessions Custos can end",
        )
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
