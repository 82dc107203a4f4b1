"""Case lists apply the operator's scope before the limit: an operator scoped to
one group sees that group's cases even when newer cases of other groups fill
the first page (R-33: an operator acts only within their scope)."""

from __future__ import annotations

from datetime import timedelta

from conftest import World
from custos.domain.model import Role
from custos.service.recovery import cases, queries


def _open(world: World, subject_id: str) -> str:
    case = cases.open_helpdesk_case(
        world.svc,
        world.operators["hana"],
        subject_id=subject_id,
        reason="caller",
        source_address="10.0.0.1",
    )
    world.clock.advance(timedelta(seconds=60))
    return case.id


def test_scoped_list_finds_cases_behind_a_page_of_others(world: World) -> None:
    """Two in-scope cases opened first, then seven of another group: a limit of
    three still returns both in-scope cases, newest first, and nothing else."""
    world.operator("hana", Role.REQUESTER)
    world.operator("ola", Role.APPROVER, scope=("contractors",))
    world.subject("cara", groups=("contractors",))
    world.subject("cody", groups=("contractors",))
    in_scope = [_open(world, "cara"), _open(world, "cody")]
    for i in range(7):
        world.subject(f"staff{i}")
        _open(world, f"staff{i}")

    rows = queries.list_cases(world.svc, world.operators["ola"], limit=3)

    assert [row["id"] for row in rows] == list(reversed(in_scope))


def test_scoped_list_stops_at_the_limit(world: World) -> None:
    """Five in-scope cases among others: a limit of two returns the two newest
    in-scope cases; an unscoped list returns the newest of all."""
    world.operator("hana", Role.REQUESTER)
    world.operator("ola", Role.APPROVER, scope=("contractors",))
    opened: list[tuple[str, bool]] = []
    for i in range(5):
        world.subject(f"con{i}", groups=("contractors",))
        opened.append((_open(world, f"con{i}"), True))
        world.subject(f"staff{i}")
        opened.append((_open(world, f"staff{i}"), False))

    scoped = queries.list_cases(world.svc, world.operators["ola"], limit=2)
    everyone = queries.list_cases(world.svc, None, limit=2)

    newest_in_scope = [case_id for case_id, covered in reversed(opened) if covered][:2]
    assert [row["id"] for row in scoped] == newest_in_scope
    assert [row["id"] for row in everyone] == [case_id for case_id, _ in reversed(opened)][:2]
