"""One recovery across several targets where one cloud target fails: the others
succeed, the case goes to needs_attention naming the failed target, and the
failure never carries the secret (R-24). The Entra targets are the connector
against the local Graph server (servers.graph)."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from recoveries import PASSWORD, self_service_recovery
from servers.graph import GraphServer, strong_password
from servers.okta import OktaServer

from conftest import World, make_world
from custos.domain.states import CaseState
from custos.store.receipt_repository import ReceiptState
from custos.store.tables import linked_accounts


@pytest.fixture
def cloud_world(
    tmp_path: Path, graph_server: GraphServer, okta_server: OktaServer
) -> Iterator[World]:
    graph_server.clear()
    okta_server.clear()
    targets = {
        "directory": {"kind": "builtin"},
        "entra": graph_server.target(),
        "entra_stale": graph_server.target(client_secret={"value": "expired-secret"}),
        "okta": okta_server.oauth_target(),
        "okta_stale": okta_server.target(api_token={"value": "00revoked-token"}),
    }
    world = make_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, targets=targets)
    yield world
    world.svc.engine.dispose()
    failures = list(graph_server.failures) + list(okta_server.failures)
    graph_server.clear()
    okta_server.clear()
    assert failures == [], failures


def _link(world: World, subject: str, target: str, account: str) -> None:
    with world.svc.uow() as uow:
        uow.conn.execute(
            linked_accounts.insert().values(target=target, account_id=account, subject_id=subject)
        )
        uow.commit()


def _receipts(world: World, case_id: str) -> tuple[Any, dict[str, Any]]:
    with world.svc.uow() as uow:
        return uow.cases.get(case_id), {r.target: r for r in uow.receipts.for_case(case_id)}


def test_one_cloud_target_refusing_its_credentials_sends_the_case_to_needs_attention(
    cloud_world: World, graph_server: GraphServer
) -> None:
    world = cloud_world
    uid = f"cloud{os.getpid() % 1000}{time.monotonic_ns() % 10000}"
    world.subject(uid)
    upn, other = f"{uid}@contoso.test", f"{uid}-2@contoso.test"
    graph_server.add_user(upn, strong_password())
    old_other = strong_password()
    graph_server.add_user(other, old_other)
    _link(world, uid, "entra", upn)
    _link(world, uid, "entra_stale", other)

    case_id = self_service_recovery(world, uid, source_address=f"10.9.{secrets.randbelow(250)}.1")
    world.drain()

    case, by_target = _receipts(world, case_id)
    assert case.state == CaseState.NEEDS_ATTENTION
    assert "entra_stale/" in case.outcome_reason
    assert by_target["directory"].state == ReceiptState.SUCCEEDED
    assert by_target["entra"].state == ReceiptState.SUCCEEDED
    assert by_target["entra_stale"].state == ReceiptState.FAILED
    assert by_target["entra_stale"].last_error == "PermissionDenied"
    assert "invalid_client" in (by_target["entra_stale"].answer or "")
    assert "expired-secret" not in (by_target["entra_stale"].answer or "")
    assert graph_server.can_login(upn, PASSWORD)
    assert graph_server.can_login(other, old_other)


def test_an_okta_target_with_a_revoked_api_token_fails_alone(
    cloud_world: World, okta_server: OktaServer
) -> None:
    world = cloud_world
    uid = f"okta{os.getpid() % 1000}{time.monotonic_ns() % 10000}"
    world.subject(uid)
    login, other = f"{uid}@example.test", f"{uid}-2@example.test"
    okta_server.add_user(login, strong_password())
    old_other = strong_password()
    okta_server.add_user(other, old_other)
    _link(world, uid, "okta", login)
    _link(world, uid, "okta_stale", other)

    case_id = self_service_recovery(world, uid, source_address=f"10.8.{secrets.randbelow(250)}.1")
    world.drain()

    case, by_target = _receipts(world, case_id)
    assert case.state == CaseState.NEEDS_ATTENTION
    assert "okta_stale/" in case.outcome_reason
    assert by_target["directory"].state == ReceiptState.SUCCEEDED
    assert by_target["okta"].state == ReceiptState.SUCCEEDED
    assert by_target["okta_stale"].state == ReceiptState.FAILED
    assert by_target["okta_stale"].last_error == "PermissionDenied"
    assert "E0000011" in (by_target["okta_stale"].answer or "")
    assert "00revoked-token" not in (by_target["okta_stale"].answer or "")
    assert okta_server.can_login(login, PASSWORD)
    assert okta_server.can_login(other, old_other)
