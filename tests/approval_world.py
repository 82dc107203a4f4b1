"""Cases waiting for approval, built through the service layer, for the
console's approver and auditor tests (e2e and browser)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sponsor_attestation import sponsor_attests, with_sponsor

from conftest import World, make_world, pg_database
from custos.domain.model import Employment, Role
from custos.policy import loader
from custos.service.recovery import cases

#: The contractor tier's approvals line and what follows it up to the next tier.
CONTRACTOR_APPROVALS = (
    "approvals: {count: 1}\n    action: reset_token\n    token_ttl: 15m\n"
    "    post_checks: [read_back, sessions_revoked]\n"
    "    optional_checks: [sessions_revoked]\n\n  # Employees"
)


def awaiting_case(
    world: World,
    subject_id: str,
    *,
    requester: str = "hana",
    groups: tuple[str, ...] = ("contractors",),
    reason: str = "caller lost phone and password",
) -> str:
    """A contractor's help-desk case opened by ``requester`` (made a requester
    if unknown) and proofed by TOTP and the sponsor's attestation (the
    contractor tier requires it): it waits for approval. Returns its id."""
    world.subject(subject_id, employment=Employment.CONTRACTOR, groups=groups, with_totp=True)
    with_sponsor(world, subject_id)
    if requester not in world.operators:
        world.operator(requester, Role.REQUESTER)
    operator = world.operators[requester]
    case = cases.open_helpdesk_case(world.svc, operator, subject_id=subject_id, reason=reason)
    cases.add_proof(
        world.svc, operator, case.id, method="totp", response=world.totp_now(subject_id)
    )
    sponsor_attests(world, operator, case.id)
    return case.id


def two_approvals_policy(folder: Path) -> Path:
    """The default policy with contractors needing two approvers."""
    text = loader.DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    assert text.count(CONTRACTOR_APPROVALS) == 1
    path = folder / "policy.yaml"
    path.write_text(text.replace(CONTRACTOR_APPROVALS, CONTRACTOR_APPROVALS.replace("1", "2", 1)))
    return path


@contextmanager
def world_on(backend: str, tmp_path: Path, **settings: Any) -> Iterator[World]:
    """A World on ``backend`` ("sqlite" or "postgres") with extra settings."""
    if backend == "sqlite":
        world = make_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, **settings)
        try:
            yield world
        finally:
            world.svc.engine.dispose()
        return
    with pg_database() as url:
        world = make_world(url, tmp_path, **settings)
        try:
            yield world
        finally:
            world.svc.engine.dispose()
