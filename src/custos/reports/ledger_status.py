"""The ledger's verification status for reports: one injectable function.

:data:`LedgerVerifier` is any ``(Services) -> LedgerStatus``; the default,
:func:`verify_ledger_status`, re-verifies the whole Merkle ledger read-only
through ``custos.ledger.audit.verify``. Tests and callers who want something
cheaper (the last recorded ``audit verify``) pass their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from custos.service.ports import Services

State = Literal["verified", "broken", "unavailable"]


@dataclass(frozen=True, slots=True)
class LedgerStatus:
    """``verified``: every entry and signed head checks out; ``broken``: at least
    one problem (``problems`` says how many, ``detail`` the first);
    ``unavailable``: verification could not run (``detail`` says why)."""

    state: State
    entries: int = 0
    problems: int = 0
    root_hash: str = ""
    heads_checked: int = 0
    detail: str = ""

    def to_json(self) -> dict[str, object]:
        return asdict(self)


LedgerVerifier = Callable[["Services"], LedgerStatus]


def verify_ledger_status(svc: Services) -> LedgerStatus:
    """Recompute the tree and check every signed head (read-only; records nothing)."""
    try:
        from custos.ledger.audit import verify
    except ImportError as exc:  # a build without the tamper-evident ledger
        return LedgerStatus("unavailable", detail=f"ledger verification not installed: {exc}")
    try:
        report = verify(svc)
    except Exception as exc:  # a report must still render when verification cannot run
        return LedgerStatus("unavailable", detail=f"verification failed to run: {exc}")
    return LedgerStatus(
        "verified" if report.ok else "broken",
        entries=report.entries,
        problems=len(report.problems),
        root_hash=report.root_hash,
        heads_checked=report.heads_checked,
        detail=report.problems[0].message if report.problems else "",
    )
