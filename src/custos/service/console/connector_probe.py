"""The administration page's "Test" button: the connection test ``custos
connector test NAME`` runs (the connector's ``test()``: connect, TLS, bind,
search, permissions...), timed, logged as one structured line (the command
writes no ledger event: a test changes nothing). Nothing secret is returned or
logged: the steps' details are the connectors' own secret-free words."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import structlog

from custos.connectors.errors import ConnectorError
from custos.connectors.spi import TestOp, TestStep
from custos.domain.errors import NotFound
from custos.domain.model import Operator
from custos.service.ports import Services

log = structlog.get_logger("custos.console")


@dataclass(frozen=True, slots=True)
class ProbeRun:
    """One connection test of ``target``. ``error`` is set when the test could
    not run at all (then ``steps`` is empty); ``ok`` when every step passed."""

    target: str
    kind: str
    started_at: datetime
    elapsed_ms: int
    steps: tuple[TestStep, ...]
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.steps) and all(s.ok for s in self.steps)

    @property
    def failed(self) -> TestStep | None:
        """The first failed step (a failed step ends most tests)."""
        return next((s for s in self.steps if not s.ok), None)


def probe_target(svc: Services, operator: Operator, name: str) -> ProbeRun:
    """Run target ``name``'s connection test. Raises NotFound for a target that
    is not configured; a target without a test answers a run with ``error``."""
    if not svc.registry.has(name):
        raise NotFound(f"no target named '{name}' is configured")
    target = svc.registry.get(name)
    started_at = svc.clock.now()
    began = time.perf_counter()
    steps: tuple[TestStep, ...] = ()
    error: str | None = None
    if not isinstance(target.connector, TestOp):
        error = f"target '{name}' offers no connection test"
    else:
        try:
            steps = tuple(target.connector.test())
        except ConnectorError as exc:
            error = exc.answer
    run = ProbeRun(
        target=name,
        kind=target.kind,
        started_at=started_at,
        elapsed_ms=round((time.perf_counter() - began) * 1000),
        steps=steps,
        error=error,
    )
    failed = run.failed
    log.info(
        "connector_tested",
        target=name,
        kind=target.kind,
        ok=run.ok,
        failed_step=failed.name if failed else None,
        error=error,
        elapsed_ms=run.elapsed_ms,
        operator=operator.id,
    )
    return run
