"""Failed operator sign-ins are refusals (R-36, issue 14): every failed console
sign-in (a known operator's, an unknown name's) and every attempt the throttle
turns away is counted in its actor's ``sign_in`` refusal window, shown on
``/metrics`` by kind only, and a flood is written once more as a summary when
its window closed; a failed API bearer token is an ``api_token`` refusal.
SQLite and PostgreSQL, through the console's forms and the API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from approval_world import world_on
from console_helpers import console_client
from fastapi.testclient import TestClient
from operator_helpers import PASSWORD, events, local_operator, post_code, post_password

from conftest import BACKENDS, World
from custos.api.app import create_app
from custos.domain.model import Role
from custos.service.oversight.refusals import close_windows, refusals_by_kind


@pytest.fixture(params=BACKENDS)
def watched(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    with world_on(request.param, tmp_path, metrics_enabled=True) as world:
        yield world


def test_failed_console_sign_ins_are_sign_in_refusals_and_a_flood_is_summarised(
    watched: World,
) -> None:
    """R-36: four wrong passwords and a throttled fifth try for hana, her code
    step throttled after the right password, and one unknown name: each
    counted as a ``sign_in`` refusal of its actor (the per-attempt
    ``auth:operator:sign_in_failed`` entries stay);
    hana's window closes into one ``oversight:refusals:summarised`` entry of 6;
    the unknown name's single refusal needs none."""
    world = watched
    otp = local_operator(world, "hana", Role.REQUESTER)
    with console_client(world) as client:
        statuses = [
            post_password(client, "hana", "wrong " + PASSWORD).status_code for _ in range(5)
        ]
        assert statuses == [401, 401, 401, 401, 429]
        assert post_password(client, "nobody-here", PASSWORD).status_code == 401
        world.clock.advance(timedelta(seconds=30))  # past the throttle's delay
        assert post_password(client, "hana").status_code == 303
        wrong = "000000" if otp.at(world.clock.now()) != "000000" else "111111"
        # The operator's failures still weigh on the code step: throttled too.
        assert post_code(client, wrong).status_code == 429

    assert refusals_by_kind(world.svc) == {"sign_in": 7}
    # The per-attempt entries: hana's four checks and the unknown name's (a 429 is no check).
    assert len(events(world, "auth:operator:sign_in_failed")) == 5
    assert events(world, "oversight:refusals:summarised") == []  # the window is still open

    world.clock.advance(world.svc.policy.document.oversight.refusal_window)
    assert close_windows(world.svc) == 1
    [summary] = events(world, "oversight:refusals:summarised")
    assert summary["actor"] == world.operators["hana"].actor
    assert summary["data"]["kind"] == "sign_in" and summary["data"]["count"] == 6
    assert close_windows(world.svc) == 0  # written once


def test_metrics_count_sign_in_and_bearer_token_refusals_without_names(watched: World) -> None:
    """R-36, issue 14: a failed console sign-in and a failed API bearer token
    appear on ``/metrics`` as counts by kind; no name is in a label."""
    world = watched
    local_operator(world, "hana", Role.REQUESTER)
    with console_client(world) as client:
        assert post_password(client, "hana", "wrong " + PASSWORD).status_code == 401
    with TestClient(create_app(world.svc)) as api:
        bad = {"Authorization": "Bearer cop_not-a-token-at-all"}
        assert api.get("/api/v1/oversight/alerts", headers=bad).status_code == 401
        text = api.get("/metrics").text
    assert 'custos_operator_refusals_total{kind="sign_in"} 1.0' in text
    assert 'custos_operator_refusals_total{kind="api_token"} 1.0' in text
    assert "hana" not in text
    [refused] = events(world, "oversight:operator:refused")
    assert refused["actor"] == "anonymous" and refused["data"]["kind"] == "api_token"
