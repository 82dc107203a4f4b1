"""The console's administration pages (docs/console.md#administration): only
admins open them; the policy page shows the active policy and the file on disk
checked as ``custos policy check`` checks it; the connectors page shows each
target without secrets, and its Test button runs the connection test."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
import structlog
from console_helpers import console_client, csrf_of, sign_in
from fastapi.testclient import TestClient

from conftest import World, make_world
from custos.domain.model import Role


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    world.operator("margaret", Role.ADMIN)
    world.operator("hana", Role.REQUESTER, Role.APPROVER, Role.EXECUTOR, Role.AUDITOR)
    with console_client(world) as c:
        yield c


def _text(html: str) -> str:
    """The page's text: inline tags dropped, others a space, whitespace folded
    (to find phrases across tags)."""
    inline = re.sub(r"</?(code|a|span)\b[^>]*>", "", html)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", inline)).split())


def _problems(html: str) -> list[tuple[int, str]]:
    """(line, reason) of each row of the page's table of policy problems."""
    table = re.search(r'<table class="problems">(.*?)</table>', html, re.S)
    assert table, "the page lists no problems"
    rows = re.findall(r"<tr><td>(\d+)</td><td>(.*?)</td></tr>", table.group(1))
    return [(int(line), unescape(reason)) for line, reason in rows]


@pytest.mark.parametrize(
    "path", ["/console/admin", "/console/admin/policy", "/console/admin/connectors"]
)
def test_every_role_but_admin_is_refused_with_a_page(
    world: World, client: TestClient, path: str
) -> None:
    sign_in(client, world, "hana")
    answer = client.get(path)
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("text/html")
    assert "Error id: not_authorized" in answer.text
    assert "admin role" in answer.text


def test_a_non_admin_cannot_run_a_connection_test(world: World, client: TestClient) -> None:
    sign_in(client, world, "hana")
    csrf = csrf_of(client.get("/").text)
    answer = client.post("/console/admin/connectors/directory/test", data={"csrf": csrf})
    assert answer.status_code == 403
    assert "Error id: not_authorized" in answer.text


def test_the_administration_menu_is_shown_to_admins_only(world: World, client: TestClient) -> None:
    sign_in(client, world, "hana")
    assert 'href="/console/admin"' not in client.get("/").text
    sign_in(client, world, "margaret")
    page = client.get("/console/admin")
    assert page.status_code == 200, page.text
    for href in ("/console/admin/policy", "/console/admin/connectors", "/console/admin/operators"):
        assert f'href="{href}"' in page.text
    assert 'href="/console/admin" aria-current="page"' in page.text


def test_the_policy_page_shows_the_file_hash_and_tiers(world: World, client: TestClient) -> None:
    sign_in(client, world, "margaret")
    answer = client.get("/console/admin/policy")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    text = _text(answer.text)
    policy = world.svc.policy
    assert policy.source in text
    assert policy.hash in text
    assert "The file on disk is the policy Custos runs (same hash)." in text
    assert f"Valid: version {policy.version}" in text
    for tier in policy.document.tiers:
        assert f". {tier.name}" in text
    # The privileged tier of the shipped policy, in plain words.
    assert "Matches privileged" in text
    assert "Channels helpdesk" in text
    assert "2 of: webauthn, totp, recovery_code, email_code, agent_challenge, reproofing" in text
    assert "one of them phishing-resistant" in text
    assert "2 distinct people from security-approvers, valid 4h" in text
    assert "a reissue: a one-time link to a new password" in text  # not a reset (issue 13)
    assert "sessions_revoked optional runs on: directory" in text  # the shared tier
    assert "factors_removed optional runs on: custos" in text
    assert "Matches holds: legal_hold or incident_freeze" in text
    assert "blocks recovery" in text
    assert "medium: factors 2; high: factors 2, approvals 1" in text


VALID = """version: 3
risk_bands: {low: [0, 49], high: [50, 100]}
tiers:
  - name: everyone
    match: {kind: human}
    channels: [self_service]
    proofing: {factors: 1, methods: [totp, email_code]}
    action: reset_token
    token_ttl: 15m
    post_checks: [read_back]
"""

BROKEN = """version: 3
risk_bands: {low: [0, 49], high: [50, 100]}
tiers:
  - name: everyone
    match: {kind: human}
    channels: [self_service]
    proofing: {factors: 1, methods: [totp, carrier_pigeon]}
    action: reset_token
    token_ttl: 15m
    post_checks: [read_back]
    colour: blue
"""


@pytest.fixture
def edited_world(tmp_path: Path) -> Iterator[tuple[World, Path]]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    world = make_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, policy_file=policy)
    world.operator("margaret", Role.ADMIN)
    try:
        yield world, policy
    finally:
        world.svc.engine.dispose()


def test_a_broken_policy_file_on_disk_shows_its_errors_with_line_numbers(
    edited_world: tuple[World, Path],
) -> None:
    world, path = edited_world
    path.write_text(BROKEN)
    with console_client(world) as client:
        sign_in(client, world, "margaret")
        answer = client.get("/console/admin/policy")
    assert answer.status_code == 200, answer.text
    text = _text(answer.text)
    assert f"2 problems in {path}" in text
    [(line, reason), unknown_key] = _problems(answer.text)
    assert line == 7
    assert reason.startswith(
        "tiers[0].proofing.methods[1]: unknown proofing method 'carrier_pigeon'"
    )
    assert unknown_key == (11, "tiers[0]: unknown key 'colour'")
    assert "has changed since Custos loaded it" in text
    assert "will not start with the file as it is" in text
    # The active policy is still the one loaded at start.
    assert world.svc.policy.hash in text
    assert "1. everyone" in text


def test_a_yaml_syntax_error_points_at_its_line(edited_world: tuple[World, Path]) -> None:
    world, path = edited_world
    path.write_text(VALID.replace("token_ttl: 15m", "token_ttl: [15m"))
    with console_client(world) as client:
        sign_in(client, world, "margaret")
        html = client.get("/console/admin/policy").text
    assert "1 problem in" in _text(html)
    [(line, reason)] = _problems(html)
    assert line in (10, 11)  # where PyYAML notices the unclosed flow sequence
    assert reason.startswith("YAML syntax error")


def test_a_valid_edit_on_disk_is_announced_for_the_next_start(
    edited_world: tuple[World, Path],
) -> None:
    world, path = edited_world
    path.write_text(VALID.replace("version: 3", "version: 4"))
    with console_client(world) as client:
        sign_in(client, world, "margaret")
        text = _text(client.get("/console/admin/policy").text)
    assert "Valid: version 4" in text
    assert "until it restarts, then runs the file on disk" in text


def test_a_required_check_no_target_runs_is_a_problem_as_in_policy_check(
    tmp_path: Path,
) -> None:
    """``custos policy check`` also refuses a required check that no configured
    target can run: the page reports the same, at the check's line."""
    path = tmp_path / "policy.yaml"
    path.write_text(VALID)
    world = make_world(
        f"sqlite:///{tmp_path / 'custos.db'}",
        tmp_path,
        policy_file=path,
        targets={"directory": {"kind": "builtin", "disabled_capabilities": ["revoke_sessions"]}},
    )
    try:
        world.operator("margaret", Role.ADMIN)
        path.write_text(VALID.replace("[read_back]", "[read_back, sessions_revoked]"))
        with console_client(world) as client:
            sign_in(client, world, "margaret")
            html = client.get("/console/admin/policy").text
    finally:
        world.svc.engine.dispose()
    [(line, reason)] = _problems(html)
    assert line == 10
    assert reason.startswith(
        "tiers[0].post_checks: tier 'everyone' requires check 'sessions_revoked', "
        "which no configured target can run"
    )


def test_the_connectors_page_lists_the_builtin_directory_without_secrets(
    world: World, client: TestClient
) -> None:
    sign_in(client, world, "margaret")
    answer = client.get("/console/admin/connectors")
    assert answer.status_code == 200, answer.text
    text = _text(answer.text)
    assert "directory builtin" in text
    assert "in the Custos database (built-in directory)" in text
    for capability in ("set_password", "revoke_sessions", "authenticate", "find_account"):
        assert f"{capability}:" in text
    assert "set_password: set a password" in text
    assert "authenticate: check a subject's own password (sign-in)" in text
    assert "Test directory" in text
    settings = world.svc.settings
    assert settings.sealing_key is not None
    assert settings.sealing_key.get_secret_value() not in answer.text
    assert settings.effective_database_url not in answer.text


def test_the_test_button_runs_the_builtin_directory_test(world: World, client: TestClient) -> None:
    """The htmx request gets the result fragment; the run is one log line
    naming the operator and no secret (R-37)."""
    sign_in(client, world, "margaret")
    csrf = csrf_of(client.get("/console/admin/connectors").text)
    with structlog.testing.capture_logs() as logs:
        answer = client.post(
            "/console/admin/connectors/directory/test",
            headers={"HX-Request": "true", "X-CSRF-Token": csrf},
        )
    assert answer.status_code == 200, answer.text
    assert "<html" not in answer.text
    text = _text(answer.text)
    assert re.search(r"directory: every check passed \(2 steps in \d+ ms", text), text
    assert "connect ok database reachable" in text
    assert "permissions ok Custos owns the built-in directory tables" in text
    [line] = [entry for entry in logs if entry["event"] == "connector_tested"]
    assert line["target"] == "directory"
    assert line["ok"] is True
    assert line["operator"] == world.operators["margaret"].id
    assert isinstance(line["elapsed_ms"], int)


def test_the_test_button_without_script_answers_the_whole_page(
    world: World, client: TestClient
) -> None:
    sign_in(client, world, "margaret")
    csrf = csrf_of(client.get("/console/admin/connectors").text)
    answer = client.post("/console/admin/connectors/directory/test", data={"csrf": csrf})
    assert answer.status_code == 200, answer.text
    assert "<html" in answer.text
    assert "directory: every check passed" in _text(answer.text)


def test_the_test_button_needs_the_csrf_token(world: World, client: TestClient) -> None:
    sign_in(client, world, "margaret")
    answer = client.post(
        "/console/admin/connectors/directory/test",
        headers={"HX-Request": "true", "X-CSRF-Token": "0" * 64},
    )
    assert answer.status_code == 403
    assert "csrf_refused" in answer.text


def test_testing_an_unknown_target_is_not_found(world: World, client: TestClient) -> None:
    sign_in(client, world, "margaret")
    csrf = csrf_of(client.get("/console/admin/connectors").text)
    answer = client.post("/console/admin/connectors/nowhere/test", data={"csrf": csrf})
    assert answer.status_code == 404
    assert "no target named 'nowhere' is configured" in _text(answer.text)
