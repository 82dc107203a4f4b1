"""Post-recovery checks. Per succeeded receipt: ``read_back`` (the target reports
a password change at or after the redemption; not asked of a target that holds
sessions but no password, such as an SSO portal, where nothing was written) and
``sessions_revoked`` (every session of the account ended, R-24, R-25), and for
a reissue ``factors_removed`` (the target reads back no second factor left;
a target that only removes them removes and reads back again). Once per case:
``factors_removed`` in Custos (no authenticator bound before the reissue is
still active) and ``mfa_bound`` (the subject has an authenticator of a kind the tier
accepts, phishing-resistant by default, bound in Custos or reported by a target
that reports factors; R-6).

Every result says where it ran (``target``: a target name, or ``custos``) and
what it saw (``detail``). A check a target cannot run is "not applicable": it
passes only when the tier lists it in ``optional_checks``; otherwise it fails
and the case goes to needs_attention naming why. Nothing passes unseen."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from datetime import datetime, timedelta

from custos.connectors.errors import ConnectorError, UnknownAccount
from custos.connectors.registry import ConnectorRegistry
from custos.connectors.spi import (
    ReadFactorsOp,
    ReadPasswordChangedManyOp,
    ReadPasswordChangedOp,
    ResetFactorsOp,
    RevokeSessionsOp,
)
from custos.domain.enrolment import Authenticator
from custos.store.receipt_repository import Receipt

#: Clocks of directories drift; a read-back within this margin still counts.
CLOCK_SKEW = timedelta(seconds=5)
#: Where checks on the subject itself run (``CheckResult.target``).
CUSTOS = "custos"

PASSED, FAILED, NOT_APPLICABLE = "passed", "failed", "not_applicable"


def holds_sessions_only(registry: ConnectorRegistry, target: str) -> bool:
    """Whether ``target`` keeps sessions but no password (an SSO portal such as
    LemonLDAP::NG): propagation ends its sessions instead of writing a secret."""
    return (
        registry.has(target)
        and registry.offers(target, "revoke_sessions")
        and not registry.offers(target, "set_password")
    )


def _check_for(
    registry: ConnectorRegistry, name: str, receipt: Receipt
) -> Callable[[ConnectorRegistry, Receipt, datetime], CheckResult] | None:
    """The per-receipt check ``name`` for ``receipt``; None for checks on the
    subject, and for a read-back where no password was written."""
    if name == "read_back" and holds_sessions_only(registry, receipt.target):
        return None
    return _CHECKS.get(name)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check on one account (or, for ``mfa_bound``, on the subject: target
    ``custos``, account the subject id). ``verdict`` is what the check saw:
    passed, failed, or not_applicable (the target cannot run it); ``passed`` is
    whether the case may complete on it (not_applicable only when ``optional``)."""

    name: str
    target: str
    account_id: str
    passed: bool
    detail: str
    verdict: str = PASSED
    optional: bool = False


def run_checks(
    registry: ConnectorRegistry,
    names: tuple[str, ...],
    receipts: list[Receipt],
    *,
    since: datetime,
    optional: frozenset[str] = frozenset(),
) -> list[CheckResult]:
    """The checks on targets (``read_back``, ``sessions_revoked``) of each receipt."""
    results: list[CheckResult] = []
    for receipt in receipts:
        for name in names:
            check = _check_for(registry, name, receipt)
            if check is None:
                continue  # checks on the subject run once per case (subject_checks)
            results.append(_optional(check(registry, receipt, since), optional))
    return results


@dataclass(frozen=True, slots=True)
class CaseChecks:
    """The checks one case asks for: on each succeeded receipt, since when; which
    may end not applicable; and, for ``mfa_bound``, the subject's authenticators
    bound in Custos and the kinds the tier accepts."""

    case_id: str
    names: tuple[str, ...]
    receipts: list[Receipt]
    since: datetime
    optional: frozenset[str] = frozenset()
    subject_id: str = ""
    mfa_authenticators: frozenset[str] = frozenset({"webauthn"})
    bound: tuple[Authenticator, ...] = ()


def _optional(result: CheckResult, optional: frozenset[str]) -> CheckResult:
    """Settle a not-applicable result by the tier: it passes only when optional."""
    if result.verdict != NOT_APPLICABLE:
        return result
    if result.name in optional:
        return CheckResult(
            result.name,
            result.target,
            result.account_id,
            True,
            f"{result.detail} (optional in this tier)",
            NOT_APPLICABLE,
            optional=True,
        )
    return CheckResult(
        result.name,
        result.target,
        result.account_id,
        False,
        f"{result.detail}; the tier requires this check, so the case needs a person",
        NOT_APPLICABLE,
    )


def subject_checks(registry: ConnectorRegistry, item: CaseChecks) -> list[CheckResult]:
    """The checks on the subject itself (``factors_removed`` in Custos,
    ``mfa_bound``), may call targets that report factors."""
    results = [_custos_factors_removed(item)] if "factors_removed" in item.names else []
    if "mfa_bound" in item.names:
        results.append(_mfa_bound(registry, item, ask_targets=True))
    return results


def _custos_factors_removed(item: CaseChecks) -> CheckResult:
    """After a reissue no authenticator bound in Custos before it is active (one
    bound since is the subject's re-enrolment)."""
    left = sorted(
        (a for a in item.bound if a.active and a.bound_at <= item.since), key=lambda a: a.bound_at
    )
    enrolled = sum(1 for a in item.bound if a.active and a.bound_at > item.since)
    again = f"; {enrolled} enrolled since" if enrolled else ""
    if left:
        names = ", ".join(f"{a.kind} '{a.label}'" for a in left)
        return CheckResult(
            "factors_removed",
            CUSTOS,
            item.subject_id,
            False,
            f"still bound in Custos from before the reissue: {names}",
            FAILED,
        )
    return CheckResult(
        "factors_removed",
        CUSTOS,
        item.subject_id,
        True,
        f"no authenticator from before the reissue is bound in Custos{again}",
    )


def _mfa_bound(registry: ConnectorRegistry, item: CaseChecks, *, ask_targets: bool) -> CheckResult:
    """Passes on an active authenticator of an accepted kind bound in Custos, or
    one a target that reports factors sees on the subject's account; otherwise
    fails naming every system that lacks one (R-6)."""
    wanted = item.mfa_authenticators
    kinds = " or ".join(sorted(wanted))
    found = sorted(
        (a for a in item.bound if a.active and str(a.kind) in wanted), key=lambda a: a.bound_at
    )
    if found:
        first = found[0]
        return CheckResult(
            "mfa_bound",
            CUSTOS,
            item.subject_id,
            True,
            f"{first.kind} authenticator '{first.label}' bound in Custos since "
            f"{first.bound_at.isoformat()}",
        )
    have = sorted({str(a.kind) for a in item.bound if a.active})
    lacking = [f"Custos (bound: {', '.join(have) or 'none'})"]
    for receipt in item.receipts:
        where = f"{receipt.target}/{receipt.account_id}"
        if not registry.offers(receipt.target, "read_factors"):
            lacking.append(f"{where} (reports no factors)")
            continue
        if not ask_targets:
            raise _NeedsTarget
        connector = registry.get(receipt.target).connector
        assert isinstance(connector, ReadFactorsOp)
        try:
            seen = connector.bound_factors(receipt.account_id)
        except ConnectorError as exc:
            lacking.append(f"{where} (factor read failed: {exc.answer})")
            continue
        if seen & wanted:
            return CheckResult(
                "mfa_bound",
                receipt.target,
                receipt.account_id,
                True,
                f"{receipt.target} reports {', '.join(sorted(seen & wanted))} bound to "
                f"{receipt.account_id}",
            )
        lacking.append(f"{where} (bound: {', '.join(sorted(seen)) or 'none'})")
    return CheckResult(
        "mfa_bound",
        CUSTOS,
        item.subject_id,
        False,
        f"no {kinds} authenticator bound; lacking on: " + "; ".join(lacking),
        FAILED,
    )


class _NeedsTarget(Exception):
    """A check cannot be judged without calling a target."""


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
                check = _check_for(registry, name, receipt)
                if check is None:
                    continue  # checks on the subject: after the receipts' checks
                verdict = _without_io(registry, name, receipt, item.since, bulk)
                planned.append(
                    (
                        item.case_id,
                        _optional(verdict, item.optional)
                        if verdict
                        else _bind(check, registry, receipt, item.since, item.optional),
                    )
                )
        if "factors_removed" in item.names:
            planned.append((item.case_id, _custos_factors_removed(item)))
        if "mfa_bound" in item.names:
            planned.append((item.case_id, _bind_subject(registry, item)))
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
            if _check_for(registry, name, receipt) is None:
                continue
            verdict = _without_io(registry, name, receipt, item.since, bulk)
            if verdict is None:
                return None
            results.append(_optional(verdict, item.optional))
    if "factors_removed" in item.names:
        results.append(_custos_factors_removed(item))
    if "mfa_bound" in item.names:
        try:
            results.append(_mfa_bound(registry, item, ask_targets=False))
        except _NeedsTarget:
            return None
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
    if (
        name == "factors_removed"
        and registry.has(receipt.target)
        and not _handles_factors(registry, receipt.target)
    ):
        return _no_factors(receipt)
    return None


def _handles_factors(registry: ConnectorRegistry, target: str) -> bool:
    return registry.offers(target, "read_factors") or registry.offers(target, "reset_factors")


def _no_factors(receipt: Receipt) -> CheckResult:
    return _result(
        "factors_removed",
        receipt,
        False,
        f"not applicable: {receipt.target} neither reports nor removes second factors",
        NOT_APPLICABLE,
    )


def _factors_removed(registry: ConnectorRegistry, receipt: Receipt, since: datetime) -> CheckResult:
    """Read back that the account has no second factor left: through the
    target's factor report where it has one, else by removing again (a removal
    that reads back none left)."""
    del since
    if not registry.has(receipt.target) or not _handles_factors(registry, receipt.target):
        return _no_factors(receipt)
    connector = registry.get(receipt.target).connector
    try:
        if registry.offers(receipt.target, "read_factors"):
            assert isinstance(connector, ReadFactorsOp)
            left = connector.bound_factors(receipt.account_id)
            if left:
                return _result(
                    "factors_removed",
                    receipt,
                    False,
                    f"{receipt.target} still reports {', '.join(sorted(left))} bound to "
                    f"{receipt.account_id}",
                )
            return _result(
                "factors_removed",
                receipt,
                True,
                f"{receipt.target} reports no second factor bound to {receipt.account_id}",
            )
        assert isinstance(connector, ResetFactorsOp)
        removed = connector.reset_factors(receipt.account_id)
    except ConnectorError as exc:
        return _result("factors_removed", receipt, False, f"factor read-back failed: {exc.answer}")
    return _result(
        "factors_removed",
        receipt,
        True,
        f"{removed} more removed now; {receipt.target} reads back none left",
    )


def _bind(
    check: Callable[[ConnectorRegistry, Receipt, datetime], CheckResult],
    registry: ConnectorRegistry,
    receipt: Receipt,
    since: datetime,
    optional: frozenset[str],
) -> Callable[[], CheckResult]:
    return lambda: _optional(check(registry, receipt, since), optional)


def _bind_subject(registry: ConnectorRegistry, item: CaseChecks) -> Callable[[], CheckResult]:
    return lambda: _mfa_bound(registry, item, ask_targets=True)


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
            "read_back",
            receipt,
            False,
            f"not applicable: {receipt.target} cannot report password-change times",
            NOT_APPLICABLE,
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
        False,
        f"not applicable: {receipt.target} offers no session revocation, so Custos "
        "cannot end (or see) sessions there",
        NOT_APPLICABLE,
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


def _result(
    name: str, receipt: Receipt, passed: bool, detail: str, verdict: str | None = None
) -> CheckResult:
    return CheckResult(
        name=name,
        target=receipt.target,
        account_id=receipt.account_id,
        passed=passed,
        detail=detail,
        verdict=verdict or (PASSED if passed else FAILED),
    )


_CHECKS = {
    "read_back": _read_back,
    "sessions_revoked": _sessions,
    "factors_removed": _factors_removed,
}
