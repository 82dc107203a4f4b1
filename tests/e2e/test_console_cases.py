"""The console's case list (docs/console.md#cases): cases in the operator's
scope, filtered by state and subject, each leading to its page and, for
approvers and auditors, to the decision and the timeline."""

from __future__ import annotations

import re

from approval_world import awaiting_case
from console_helpers import console_client, sign_in

from conftest import World
from custos.domain.model import Role


def _listed(html: str) -> list[str]:
    return re.findall(r'<td><a href="/console/cases/([^"]+)">', html)


def test_cases_in_scope_filtered_by_state_and_subject(world: World) -> None:
    world.operator("ada", Role.APPROVER, Role.AUDITOR, scope=("contractors",))
    carl = awaiting_case(world, "carl")
    dora = awaiting_case(world, "dora")
    elsewhere = awaiting_case(world, "fred", groups=("finance",))
    with console_client(world) as client:
        sign_in(client, world, "ada")
        page = client.get("/console/cases")
        assert page.status_code == 200, page.text
        assert sorted(_listed(page.text)) == sorted([carl, dora])
        assert elsewhere not in page.text
        one = client.get("/console/cases", params={"subject": "dora"})
        assert _listed(one.text) == [dora]
        waiting = client.get("/console/cases", params={"state": "awaiting_approval"})
        assert sorted(_listed(waiting.text)) == sorted([carl, dora])
        assert f'href="/console/approvals/{carl}"' in waiting.text
        assert f'href="/console/audit/cases/{carl}"' in waiting.text
        none = client.get("/console/cases", params={"state": "completed"})
        assert _listed(none.text) == []
        assert "No case in your scope matches." in none.text
        bad = client.get("/console/cases", params={"state": "nonsense"})
        assert bad.status_code == 422
        assert "unknown state" in bad.text


def test_links_follow_the_roles(world: World) -> None:
    world.operator("hana", Role.REQUESTER)
    carl = awaiting_case(world, "carl")
    with console_client(world) as client:
        sign_in(client, world, "hana")
        page = client.get("/console/cases")
        assert _listed(page.text) == [carl]
        assert "/console/approvals/" not in page.text.split("<table>")[1]
        assert "/console/audit/cases/" not in page.text
