"""Break-glass on the console's case page (docs/exceptions.md,
docs/console.md#help-desk), on SQLite and PostgreSQL: the form shows on a
blocked case for the help desk and security approvers only; a refusal shows
the page again with its reason and ``break_glass_refused``; a use sends the
case on, marks it on the page and queues the security alert; a case outside
the scope answers 404."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from break_glass_world import blocked_case, glass_exception, held_subject, staff
from console_cases import Desk
from console_helpers import console_client, csrf_of, sign_in

from conftest import BACKENDS, World, _world

SECURITY = "soc@example.org"
FORM = 'action="/console/cases/{}/break-glass"'


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    yield from _world(request.param, tmp_path, security_address=SECURITY)


@pytest.fixture
def desks(world: World) -> Iterator[dict[str, Desk]]:
    staff(world)
    with ExitStack() as stack:
        found = {}
        for name in ("hana", "sue", "linus", "finn"):
            client = stack.enter_context(console_client(world))
            sign_in(client, world, name)
            found[name] = Desk(client)
        yield found


def test_break_glass_from_the_case_page(world: World, desks: dict[str, Desk]) -> None:
    """R-36: the help desk and a security approver see the form, a plain
    approver does not; an unknown exception is refused on the page and
    changes nothing; the use sends the case to proofing, the page marks it,
    and the alert mail goes to the security contact."""
    held_subject(world, "carl")
    case_id = blocked_case(world, "carl")
    exception_id = glass_exception(world, "carl")
    hana, sue, linus = desks["hana"], desks["sue"], desks["linus"]
    assert FORM.format(case_id) in hana.get(f"/console/cases/{case_id}").text
    assert FORM.format(case_id) in sue.get(f"/console/cases/{case_id}").text
    assert FORM.format(case_id) not in linus.get(f"/console/cases/{case_id}").text

    refused = hana.act(case_id, "break-glass", exception="exc-nope", reason="CFO locked out")
    assert refused.status_code == 403
    assert "no break-glass exception" in refused.text and "break_glass_refused" in refused.text
    with world.svc.uow() as uow:
        assert uow.cases.get(case_id).state == "blocked"

    used = hana.act(case_id, "break-glass", exception=exception_id, reason="CFO locked out")
    assert used.status_code == 200, used.text
    assert "Break-glass used" in used.text and exception_id in used.text
    assert FORM.format(case_id) not in used.text  # no longer blocked
    with world.svc.uow() as uow:
        case = uow.cases.get(case_id)
    assert case.state == "proofing" and case.requirements.break_glass is not None
    [mail] = world.mail(SECURITY, "break_glass_used")
    assert case_id in mail["body"] and "CFO locked out" in mail["body"]


def test_break_glass_outside_the_scope_answers_not_found(
    world: World, desks: dict[str, Desk]
) -> None:
    """A case outside the operator's scope: 404, as for an unknown case."""
    held_subject(world, "carl")
    case_id = blocked_case(world, "carl")
    exception_id = glass_exception(world, "carl")
    finn = desks["finn"]
    assert finn.get(f"/console/cases/{case_id}").status_code == 404
    answer = finn.client.post(
        f"/console/cases/{case_id}/break-glass",
        data={"csrf": csrf_of(finn.get("/").text), "exception": exception_id, "reason": "x"},
    )
    assert answer.status_code == 404 and "carl" not in answer.text
    with world.svc.uow() as uow:
        assert uow.cases.get(case_id).state == "blocked"
