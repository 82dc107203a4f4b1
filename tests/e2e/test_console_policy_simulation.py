"""The policy page's simulation (docs/console.md#the-policy-page): an admin pastes
or uploads a candidate policy and sees the recorded cases replayed under it; an
invalid candidate shows its problems by line and runs nothing; other roles are
refused; a form without the session's CSRF token is refused; nothing changes.
On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

import pytest
from console_helpers import console_client, csrf_of, sign_in
from fastapi.testclient import TestClient
from httpx2 import Response
from simulation_world import LOOSER, STRICTER, seed_cases, snapshot

from conftest import World
from custos.domain.model import Role

URL = "/console/admin/policy/simulate"
HTMX = {"HX-Request": "true"}


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    world.operator("margaret", Role.ADMIN)
    world.operator("ada", Role.AUDITOR, Role.APPROVER, Role.REQUESTER)
    with console_client(world) as c:
        yield c


def _text(html: str) -> str:
    inline = re.sub(r"</?(code|a|span|br)\b[^>]*>", " ", html)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", inline)).split())


def _row(html: str, case_id: str) -> str:
    """The text of the table row of ``case_id``."""
    for row in re.findall(r"<tr>(.*?)</tr>", html, re.S):
        if case_id in row:
            return _text(row)
    raise AssertionError(f"no row for {case_id}")


def _post(client: TestClient, **fields: str) -> Response:
    csrf = csrf_of(client.get("/console/admin/policy").text)
    return client.post(URL, data={"csrf": csrf, **fields}, headers=HTMX)


def test_the_policy_page_offers_the_simulation_form(world: World, client: TestClient) -> None:
    sign_in(client, world, "margaret")
    html = client.get("/console/admin/policy").text
    assert 'action="/console/admin/policy/simulate"' in html
    assert 'enctype="multipart/form-data"' in html
    assert 'name="policy_file" type="file"' in html
    assert 'id="since" name="since" value="30d"' in html


def test_a_pasted_stricter_candidate_shows_each_case_and_the_totals(
    world: World, client: TestClient
) -> None:
    opened = seed_cases(world)
    sign_in(client, world, "margaret")  # a ledger event of its own
    csrf = csrf_of(client.get("/console/admin/policy").text)
    before = snapshot(world)
    answer = client.post(URL, data={"csrf": csrf, "policy_text": STRICTER}, headers=HTMX)
    assert answer.status_code == 200, answer.text
    html: str = answer.text
    text = _text(html)
    assert "5 cases opened from" in text and "replayed under pasted policy" in text
    assert "Would be refused 1" in text and "Need more approvals 1" in text
    assert "Stricter 1" in text and "Unchanged 3" in text
    assert "Cases the candidate changes (2)" in text
    alice = _row(html, opened["alice"])
    assert "stricter" in alice and "factors 1 → 2" in alice and "approvals 0 → 1" in alice
    assert "current attributes (a case does not record them)" in alice
    bob = _row(html, opened["bob"])
    assert "would be refused" in bob and "channel refused" in bob
    assert "goes on to proofing → refused for its channel" in bob
    assert f'href="/console/cases/{opened["alice"]}"' in html
    assert "3 unchanged cases" in text
    assert opened["olga"] not in html  # outside the 30 days
    # The console session's bookkeeping aside, nothing moved: no ledger entry.
    after = snapshot(world)
    assert after["rows"]["cases"] == before["rows"]["cases"]
    assert after["last_leaf"] == before["last_leaf"]
    assert after["counts"]["ledger"] == before["counts"]["ledger"]


def test_an_uploaded_looser_candidate_names_the_file(world: World, client: TestClient) -> None:
    opened = seed_cases(world)
    sign_in(client, world, "margaret")
    csrf = csrf_of(client.get("/console/admin/policy").text)
    answer = client.post(
        URL,
        data={"csrf": csrf, "since": "1d"},
        files={"policy_file": ("looser.yaml", LOOSER.encode(), "application/yaml")},
        headers=HTMX,
    )
    assert answer.status_code == 200, answer.text
    text = _text(answer.text)
    assert "replayed under looser.yaml" in text
    assert "No longer refused 0" in text and "Need fewer approvals 1" in text
    assert "frozen standard 1" in text  # the tier changes table
    dave = _row(answer.text, opened["dave"])
    assert "different" in dave and "held" in dave and "tier frozen → standard" in dave


def test_an_invalid_candidate_shows_its_problems_by_line(world: World, client: TestClient) -> None:
    seed_cases(world)
    sign_in(client, world, "margaret")
    broken = STRICTER.replace("  case_ttl: 24h", "  case_ttl: 24h\n  colour: blue")
    line = STRICTER[: STRICTER.index("  case_ttl: 24h")].count("\n") + 2
    answer = _post(client, policy_text=broken)
    assert answer.status_code == 422
    html: str = answer.text
    assert "Not simulated: 1 problem in pasted policy" in _text(html)
    assert f"<tr><td>{line}</td><td>defaults: unknown key &#39;colour&#39;</td></tr>" in html
    assert "Error id: policy_invalid" in html
    assert "Result" not in html


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"policy_text": ""}, "paste a candidate policy or choose its file"),
        ({"policy_text": STRICTER, "since": "yesterday"}, "Since is a duration back from now"),
        ({"policy_text": STRICTER, "since": "2d", "until": "3d"}, "Until must be after Since"),
    ],
)
def test_a_bad_form_is_answered_in_place(
    world: World, client: TestClient, fields: dict[str, str], message: str
) -> None:
    sign_in(client, world, "margaret")
    answer = _post(client, **fields)
    assert answer.status_code == 422
    assert message in unescape(answer.text)
    assert "Error id: invalid_input" in answer.text


def test_a_file_and_pasted_text_together_are_refused(world: World, client: TestClient) -> None:
    sign_in(client, world, "margaret")
    csrf = csrf_of(client.get("/console/admin/policy").text)
    answer = client.post(
        URL,
        data={"csrf": csrf, "policy_text": STRICTER},
        files={"policy_file": ("looser.yaml", LOOSER.encode(), "application/yaml")},
        headers=HTMX,
    )
    assert answer.status_code == 422
    assert "choose a file or paste a policy, not both" in answer.text
    answer = client.post(
        URL,
        data={"csrf": csrf},
        files={"policy_file": ("latin.yaml", "version: 1 # café".encode("latin-1"), "text/yaml")},
        headers=HTMX,
    )
    assert answer.status_code == 422
    assert "not UTF-8 text" in answer.text


def test_without_script_the_whole_page_comes_back_with_the_result(
    world: World, client: TestClient
) -> None:
    seed_cases(world)
    sign_in(client, world, "margaret")
    csrf = csrf_of(client.get("/console/admin/policy").text)
    answer = client.post(URL, data={"csrf": csrf, "policy_text": STRICTER, "since": "30d"})
    assert answer.status_code == 200
    assert "<h1>Recovery policy</h1>" in answer.text
    assert "Cases the candidate changes (2)" in _text(answer.text)
    # The pasted text stays in the form, to edit and try again.
    assert "channels: [self_service]" in unescape(answer.text)


def test_only_admins_may_simulate_and_only_with_the_forms_token(
    world: World, client: TestClient
) -> None:
    sign_in(client, world, "ada")
    csrf = csrf_of(client.get("/").text)
    refused = client.post(URL, data={"csrf": csrf, "policy_text": STRICTER})
    assert refused.status_code == 403
    assert "Error id: not_authorized" in refused.text
    sign_in(client, world, "margaret")
    forged = client.post(URL, data={"csrf": "not-the-token", "policy_text": STRICTER})
    assert forged.status_code == 403
    assert "Error id: csrf_refused" in forged.text
