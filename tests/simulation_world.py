"""Recorded cases and candidate policies for the policy-simulation tests (service,
CLI, console): real cases opened under the shipped default policy, and edits of
that policy's text that are stricter or looser in known ways."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from policy_text import in_tier, without_tier
from sqlalchemy import func, select

from conftest import World
from custos.domain.errors import RecoveryBlocked
from custos.domain.model import Employment, Hold, Role
from custos.policy.loader import DEFAULT_POLICY_PATH
from custos.service.recovery import cases
from custos.store.metadata import metadata
from custos.store.tables import ledger

DEFAULT_TEXT = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
#: The subjects seeded, as world.subject keywords; the case each one opens
#: lands in the default policy's tier named in the comment.
SUBJECTS: dict[str, dict[str, Any]] = {
    "alice": {},  # standard: 1 factor, no approval
    "bob": {"employment": Employment.CONTRACTOR, "groups": ("contractors",)},  # contractor
    "carol": {"privileged": True},  # privileged: 2 factors, 2 approvals
    "dave": {"holds": (Hold.LEGAL_HOLD,)},  # frozen, and blocked by the hold itself
    "erin": {"employment": Employment.NONE},  # catch-all: 1 factor, 1 approval
}


#: Employees need two factors and an approver; contractors may no longer use
#: the help desk (their help-desk cases are refused for their channel).
_TWO_FACTORS = in_tier("standard", "proofing: {factors: 1,", "proofing: {factors: 2,", DEFAULT_TEXT)
_APPROVED = in_tier(
    "standard", "    step_up:", "    approvals: {count: 1}\n    step_up:", _TWO_FACTORS
)
STRICTER = in_tier("contractor", "[self_service, helpdesk]", "[self_service]", _APPROVED)
#: No frozen tier (a hold still blocks: holds stand outside the tiers), and
#: contractors need no approver.
LOOSER = in_tier(
    "contractor", "    approvals: {count: 1}\n", "", without_tier("frozen", DEFAULT_TEXT)
)


def open_helpdesk(world: World, subject_id: str) -> str:
    """A help-desk case for ``subject_id`` (a refused one is recorded too);
    its id. From a new source address: risk 30 (low), 60 for a privileged subject."""
    if "hana" not in world.operators:
        world.operator("hana", Role.REQUESTER)
    try:
        case = cases.open_helpdesk_case(
            world.svc,
            world.operators["hana"],
            subject_id=subject_id,
            reason="caller lost their password",
            source_address="10.9.9.9",
        )
    except RecoveryBlocked as exc:
        return str(exc.details["case_id"])
    return case.id


def seed_cases(world: World) -> dict[str, str]:
    """One case 40 days ago (olga, outside a 30-day period), then one case for
    each of :data:`SUBJECTS` ten minutes apart; the clock ends an hour after the
    last. Returns each subject's case id."""
    world.subject("olga")
    opened = {"olga": open_helpdesk(world, "olga")}
    world.clock.advance(timedelta(days=40))
    for name, attrs in SUBJECTS.items():
        world.subject(name, **attrs)
        opened[name] = open_helpdesk(world, name)
        world.clock.advance(timedelta(minutes=10))
    world.clock.advance(timedelta(hours=1))
    return opened


def snapshot(world: World) -> dict[str, Any]:
    """Every table's row count, every case and subject row, and the ledger's
    last leaf: what a read-only simulation must leave exactly as it was."""
    with world.svc.engine.connect() as conn:
        counts = {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in metadata.sorted_tables
        }
        rows = {
            name: sorted(tuple(map(repr, r)) for r in conn.execute(select(metadata.tables[name])))
            for name in ("cases", "subjects", "policies", "approvals", "proofs")
        }
        last_leaf = conn.execute(
            select(ledger.c.seq, ledger.c.leaf_hash).order_by(ledger.c.seq.desc()).limit(1)
        ).one()
    return {"counts": counts, "rows": rows, "last_leaf": tuple(last_leaf)}


def assert_unchanged(before: dict[str, Any], world: World) -> None:
    after = snapshot(world)
    assert after["counts"] == before["counts"]
    assert after["rows"] == before["rows"]
    assert after["last_leaf"] == before["last_leaf"]
