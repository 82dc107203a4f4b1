"""Issue 11's last piece: a ``reissue`` tier with ``temporary_access_pass``,
through the real worker against the local Graph server (servers.graph, which
validates every request against Microsoft's published description), on SQLite
and PostgreSQL. After the Entra account's factors are removed the worker issues
exactly one Temporary Access Pass with the tier's lifetime; the subject sees it
once through the one-time link; no log line and no ledger entry holds it; a
throttled or failing Graph is retried, then the case goes to needs_attention
saying why; a pass that cannot serve is deleted on Entra."""

from __future__ import annotations

import logging
import re
import secrets
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from fastapi.testclient import TestClient
from recoveries import PASSWORD
from reissue_world import POLICY, helpdesk_reissue
from servers.cloud_base import Answer
from servers.graph import GraphServer, strong_password
from sqlalchemy import select

from conftest import BACKENDS, World, make_world, pg_schema
from custos.api.app import create_app
from custos.domain.states import CaseState
from custos.service.recovery import cases, tap_links
from custos.service.recovery.queries import case_detail
from custos.service.recovery.tap_links import TapLinkInvalid
from custos.store.receipt_repository import ReceiptState
from custos.store.tables import ledger, linked_accounts

FIDO2 = "#microsoft.graph.fido2AuthenticationMethod"
TAP = "#microsoft.graph.temporaryAccessPassAuthenticationMethod"
#: The admins tier of the reissue policy, issuing a 45-minute single-use pass
#: and reading back that the factors are gone (on Entra and in Custos).
TAP_POLICY = POLICY.replace(
    "    action: reissue\n    token_ttl: 10m\n    post_checks: [read_back, sessions_revoked]\n",
    "    action: reissue\n    token_ttl: 10m\n"
    "    post_checks: [read_back, sessions_revoked, factors_removed]\n"
    # The built-in directory holds no factors: not applicable there.
    "    optional_checks: [factors_removed]\n"
    "    temporary_access_pass: {lifetime_minutes: 45, usable_once: true}\n",
)
assert TAP_POLICY != POLICY


def _world(url: str, tmp_path: Path, graph: GraphServer, *, delete: bool = False) -> World:
    policy = tmp_path / "policy.yaml"
    text = TAP_POLICY.replace(
        "usable_once: true}", "usable_once: true, delete_on_completion: true}"
    )
    policy.write_text(text if delete else TAP_POLICY, encoding="utf-8")
    return make_world(
        url,
        tmp_path,
        policy_file=policy,
        targets={"directory": {"kind": "builtin"}, "entra": graph.target()},
        worker={"max_attempts": 2, "backoff_base_s": 1.0},
    )


@pytest.fixture(params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path: Path, graph_server: GraphServer
) -> Iterator[World]:
    graph_server.clear()
    # The delete_on_completion test runs under a tier that says so.
    delete = "delete_on_completion" in request.node.name
    if request.param == "sqlite":
        made = _world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, graph_server, delete=delete)
        yield made
        made.svc.engine.dispose()
    else:
        with pg_schema() as url:
            made = _world(url, tmp_path, graph_server, delete=delete)
            try:
                yield made
            finally:
                made.svc.engine.dispose()
    failures = list(graph_server.failures)
    graph_server.clear()
    assert failures == [], failures


def _admin(world: World, graph: GraphServer) -> str:
    """The privileged subject ``root``, linked to a fresh Entra user holding a
    FIDO2 key; returns the user's UPN."""
    world.subject("root", privileged=True, groups=("it-admins",), with_totp=True)
    upn = f"root-{secrets.token_hex(4)}@contoso.test"
    user = graph.add_user(upn, strong_password())
    user.methods[str(uuid.uuid4())] = FIDO2
    with world.svc.uow() as uow:
        uow.conn.execute(
            linked_accounts.insert().values(target="entra", account_id=upn, subject_id="root")
        )
        uow.commit()
    world.clock.advance(timedelta(seconds=30))  # a fresh TOTP step for the proof
    return upn


def _issued(graph: GraphServer, upn: str) -> list[tuple[Any, str]]:
    return [(body, secret) for who, body, secret in graph.passes_issued if who == upn]


def _link_token(world: World, case_id: str) -> str:
    mails = [
        m
        for m in world.mail("root@example.org", "temporary_access_pass_link")
        if m["case_id"] == case_id
    ]
    assert len(mails) == 1, mails
    match = re.search(r"#token=(\S+)", mails[0]["body"])
    assert match, mails[0]["body"]
    return match.group(1)


def _ledger_text(world: World) -> str:
    with world.svc.uow(read_only=True) as uow:
        return "\n".join(str(tuple(row)) for row in uow.conn.execute(select(ledger)))


def test_a_reissue_under_a_tap_tier_hands_the_subject_one_pass_once(
    world: World, graph_server: GraphServer, caplog: pytest.LogCaptureFixture
) -> None:
    """R-24, R-45 (and R-17, R-23, R-37): after the Entra factors are removed the
    worker issues exactly one pass with the tier's lifetime (a schema-valid
    request), factors_removed still passes (a pass is no second factor), the
    subject opens the link once and a second open is refused; neither any log
    line nor any ledger entry nor the operator's case view holds the pass."""
    upn = _admin(world, graph_server)
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as logs:
        case_id = helpdesk_reissue(world, "root")
        world.drain()

        issued = _issued(graph_server, upn)
        assert len(issued) == 1, issued
        body, value = issued[0]
        assert body.lifetimeInMinutes == 45 and body.isUsableOnce is True
        user = graph_server.user(upn)
        assert user is not None and FIDO2 not in user.methods.values()
        assert list(user.methods.values()) == [TAP]  # the pass Custos issued, alone

        detail: dict[str, Any] = case_detail(world.svc, None, case_id)
        assert detail["state"] == str(CaseState.COMPLETED), detail["outcome_reason"]
        checks = {(c["name"], c["target"]): c for c in detail["checks"]}
        assert checks[("factors_removed", "entra")]["verdict"] == "passed"
        issued_events = [e for e in detail["timeline"] if e["type"] == "credential:tap:issued"]
        assert len(issued_events) == 1
        assert issued_events[0]["data"]["target"] == "entra"
        assert issued_events[0]["data"]["lifetime_minutes"] == 45

        token = _link_token(world, case_id)
        client = TestClient(create_app(world.svc))
        opened = client.post("/api/v1/temporary-access-pass", json={"token": token})
        assert opened.status_code == 200, opened.text
        assert opened.json()["temporary_access_pass"] == value
        assert opened.json()["lifetime_minutes"] == 45 and opened.json()["target"] == "entra"
        again = client.post("/api/v1/temporary-access-pass", json={"token": token})
        assert again.status_code == 400
        assert again.json()["error"]["id"] == "tap_link_invalid"
        with pytest.raises(TapLinkInvalid):
            tap_links.retrieve(world.svc, token=token)
        operator_view = str(case_detail(world.svc, None, case_id))

    assert value not in operator_view
    assert value not in _ledger_text(world)
    assert "credential:tap:retrieved" in _ledger_text(world)
    assert "credential:tap:retrieval_refused" in _ledger_text(world)
    assert logs and not [line for line in logs if value in str(line)]
    assert value not in caplog.text
    # The pass was used: it stays on Entra (no delete_on_completion).
    world.drain()
    assert TAP in user.methods.values()


def test_a_throttled_graph_is_retried_then_the_pass_is_issued_once(
    world: World, graph_server: GraphServer
) -> None:
    """R-24: 429s on the pass's POST beyond the connector's own retries make the
    receipt retry (the password and factors again, the same secret), and the
    next attempt issues exactly one pass; the case completes."""
    upn = _admin(world, graph_server)
    throttled = Answer(
        429,
        {"error": {"code": "TooManyRequests", "message": "throttled"}},
        {"Retry-After": "0"},
    )
    tap_post = r"POST /v1\.0/users/[^/]+/authentication/temporaryAccessPassMethods"
    graph_server.inject(tap_post, throttled, times=3)  # max_retries 2: three calls fail
    case_id = helpdesk_reissue(world, "root")
    world.drain()
    with world.svc.uow(read_only=True) as uow:
        (entra,) = [r for r in uow.receipts.for_case(case_id) if r.target == "entra"]
    assert entra.state == ReceiptState.RETRYABLE_FAILURE
    assert "Temporary Access Pass not issued" in (entra.answer or "")
    assert _issued(graph_server, upn) == []

    world.clock.advance(timedelta(seconds=5))
    world.drain()
    assert len(_issued(graph_server, upn)) == 1
    detail: dict[str, Any] = case_detail(world.svc, None, case_id)
    assert detail["state"] == str(CaseState.COMPLETED), detail["outcome_reason"]


def test_a_graph_that_keeps_failing_sends_the_case_to_needs_attention_saying_why(
    world: World, graph_server: GraphServer
) -> None:
    """R-24: 503s on every pass POST: after the receipt's attempts the case goes
    to needs_attention naming the Entra target, its receipt saying the pass was
    not issued; no check passed, no link was mailed."""
    upn = _admin(world, graph_server)
    unavailable = Answer(
        503,
        {"error": {"code": "serviceNotAvailable", "message": "try later"}},
        {"Retry-After": "0"},
    )
    tap_post = r"POST /v1\.0/users/[^/]+/authentication/temporaryAccessPassMethods"
    graph_server.inject(tap_post, unavailable, times=100)
    case_id = helpdesk_reissue(world, "root")
    world.drain()
    world.clock.advance(timedelta(seconds=5))
    world.drain()

    detail: dict[str, Any] = case_detail(world.svc, None, case_id)
    assert detail["state"] == str(CaseState.NEEDS_ATTENTION)
    assert "entra/" in detail["outcome_reason"]
    with world.svc.uow(read_only=True) as uow:
        (entra,) = [r for r in uow.receipts.for_case(case_id) if r.target == "entra"]
    assert entra.state == ReceiptState.FAILED
    assert "Temporary Access Pass not issued" in (entra.answer or "")
    assert not [c for c in detail["checks"] if c["passed"]]
    assert _issued(graph_server, upn) == []
    assert world.mail("root@example.org", "temporary_access_pass_link") == []


def test_a_pass_whose_link_lapsed_unopened_is_deleted_on_entra(
    world: World, graph_server: GraphServer
) -> None:
    """A pass that never reached the subject (the link lapsed unopened) is
    deleted on Entra by the worker, with a ledger event; the link is refused."""
    upn = _admin(world, graph_server)
    case_id = helpdesk_reissue(world, "root")
    world.drain()
    user = graph_server.user(upn)
    assert user is not None and list(user.methods.values()) == [TAP]
    token = _link_token(world, case_id)

    world.clock.advance(timedelta(minutes=46))
    world.drain()
    assert TAP not in user.methods.values()
    detail: dict[str, Any] = case_detail(world.svc, None, case_id)
    deleted = [e for e in detail["timeline"] if e["type"] == "credential:tap:deleted"]
    assert len(deleted) == 1 and deleted[0]["data"]["target"] == "entra"
    assert "lapsed" in deleted[0]["reason"]
    with pytest.raises(TapLinkInvalid):
        tap_links.retrieve(world.svc, token=token)
    assert graph_server.can_login(upn, PASSWORD)  # the new password stays; only the pass went


def test_a_pass_whose_case_was_cancelled_is_deleted_on_entra(
    world: World, graph_server: GraphServer
) -> None:
    """A pass issued, then the case stops (Entra cannot end the sessions: the
    sessions_revoked check fails, R-24) and an operator cancels it: the worker
    deletes the pass it issued (the subject had opened it), with a ledger event
    naming why."""
    upn = _admin(world, graph_server)
    unavailable = Answer(
        503,
        {"error": {"code": "serviceNotAvailable", "message": "try later"}},
        {"Retry-After": "0"},
    )
    graph_server.inject(r"POST /v1\.0/users/[^/]+/revokeSignInSessions", unavailable, times=100)
    case_id = helpdesk_reissue(world, "root")
    world.drain()
    detail: dict[str, Any] = case_detail(world.svc, None, case_id)
    assert detail["state"] == str(CaseState.NEEDS_ATTENTION)
    assert "sessions_revoked on entra" in detail["outcome_reason"]
    user = graph_server.user(upn)
    assert user is not None and list(user.methods.values()) == [TAP]
    # Opened or not: a pass of a case that did not complete has nothing to serve.
    assert tap_links.retrieve(world.svc, token=_link_token(world, case_id)).target == "entra"

    cases.cancel(world.svc, world.operators["hana"], case_id, reason="caller unreachable")
    world.drain()
    assert TAP not in user.methods.values()
    detail = case_detail(world.svc, None, case_id)
    deleted = [e for e in detail["timeline"] if e["type"] == "credential:tap:deleted"]
    assert len(deleted) == 1 and "cancelled" in deleted[0]["reason"]


def test_delete_on_completion_deletes_an_opened_pass_once_its_lifetime_ran_out(
    world: World, graph_server: GraphServer
) -> None:
    """With delete_on_completion the pass the subject opened is deleted once the
    case completed and its lifetime ran out; not before."""
    upn = _admin(world, graph_server)
    case_id = helpdesk_reissue(world, "root")
    world.drain()
    token = _link_token(world, case_id)
    assert tap_links.retrieve(world.svc, token=token).lifetime_minutes == 45
    user = graph_server.user(upn)
    assert user is not None
    world.clock.advance(timedelta(minutes=30))
    world.drain()
    assert TAP in user.methods.values()
    world.clock.advance(timedelta(minutes=16))
    world.drain()
    assert TAP not in user.methods.values()
    detail: dict[str, Any] = case_detail(world.svc, None, case_id)
    deleted = [e for e in detail["timeline"] if e["type"] == "credential:tap:deleted"]
    assert len(deleted) == 1 and "delete_on_completion" in deleted[0]["reason"]
