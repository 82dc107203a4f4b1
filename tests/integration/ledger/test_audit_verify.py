"""``custos audit verify`` catches tampering done with plain SQL (R-38): a
changed, removed, reordered or inserted entry is named by its index and the
command exits non-zero; a truncation behind a witnessed head is caught even
after the tree_heads table was rewritten; a break raises the
``audit:ledger:tamper_detected`` event and a signed webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from ledger_helpers import (
    cli,
    fill,
    rows,
    set_canonical,
    signing_key,
    sql,
    use_settings,
    witness_path,
)
from pydantic import SecretStr
from sqlalchemy import select

from conftest import World
from custos.domain.events import DomainEvent, EventType
from custos.ledger import merkle, parallel
from custos.ledger.audit import audit_ledger, latest_verification
from custos.ledger.heads import key_ring, sign_tree_head
from custos.ledger.proofs import check_entry_proof, entry_with_proof
from custos.notify.webhook import SIGNATURE_HEADER
from custos.store.tables import ledger, tree_heads


@pytest.fixture
def signed(world: World) -> World:
    """20 entries under a signed, witnessed head."""
    use_settings(world, ledger_witness_file=witness_path(world))
    fill(world, 20)
    signing_key(world)
    sign_tree_head(world.svc)
    return world


def _verify(world: World) -> tuple[int, str]:
    result = cli(world, "audit", "verify")
    return result.exit_code, result.output + result.stderr


def test_intact_ledger_verifies_and_records_the_outcome(signed: World) -> None:
    code, output = _verify(signed)
    assert code == 0, output
    assert "ledger intact: 20 entries" in output
    status = latest_verification(signed.svc)
    assert status is not None and status["ok"] and status["entries"] == 20


def test_changed_entry_is_reported_by_index(signed: World) -> None:
    target = rows(signed)[7]
    set_canonical(signed, target.seq, target.canonical.replace('"n":7', '"n":70'))
    code, output = _verify(signed)
    assert code == 1
    assert f"entry index 7 (seq {target.seq}) was changed" in output
    assert "head_mismatch" in output


def test_workers_option_scans_in_that_many_processes_and_names_the_same_entry(
    signed: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R-38: ``audit verify --workers 3`` forks two workers beside the caller
    (blocks of 4 entries here) and still names a changed entry by index;
    ``--workers 0`` is refused before anything is read."""
    monkeypatch.setattr(parallel, "BLOCK_LEVEL", 2)
    monkeypatch.setattr(parallel, "MIN_BLOCKS", 1)
    forked: list[int] = []
    fork = parallel._fork

    def counted(engine: Any, job: Any, *rest: Any) -> Any:
        forked.append(job.start)
        return fork(engine, job, *rest)

    monkeypatch.setattr(parallel, "_fork", counted)
    result = cli(signed, "audit", "verify", "--workers", "3")
    assert result.exit_code == 0, result.output + result.stderr
    assert "ledger intact: 20 entries" in result.output
    assert len(forked) == 2
    target = rows(signed)[13]
    set_canonical(signed, target.seq, target.canonical.replace('"n":13', '"n":130'))
    result = cli(signed, "audit", "verify", "--workers", "3")
    assert result.exit_code == 1
    assert f"entry index 13 (seq {target.seq}) was changed" in result.output + result.stderr
    refused = cli(signed, "audit", "verify", "--workers", "0")
    assert refused.exit_code == 2
    assert "--workers" in refused.output + refused.stderr


def test_removed_entry_is_reported_by_index(signed: World) -> None:
    target = rows(signed)[12]
    sql(signed, "DELETE FROM ledger WHERE seq = :seq", seq=target.seq)
    code, output = _verify(signed)
    assert code == 1
    assert "entry index 12 was removed" in output


def test_two_swapped_entries_are_reported_as_reordered(signed: World) -> None:
    a, b = rows(signed)[3], rows(signed)[9]
    set_canonical(signed, a.seq, b.canonical)
    set_canonical(signed, b.seq, a.canonical)
    code, output = _verify(signed)
    assert code == 1
    assert "entry index 3" in output and "holds the entry appended at index 9" in output
    assert "entry index 9" in output and "holds the entry appended at index 3" in output


def test_inserted_entry_is_reported_by_index(signed: World) -> None:
    """The attacker renumbers later rows and writes a forged one with a correct
    leaf hash: every row looks self-consistent, the recorded subtrees do not."""
    event = DomainEvent(EventType.CASE_APPROVED, signed.clock.now(), "operator:forged", None, None)
    forged = b'{"forged":true}'
    shift = (
        "UPDATE ledger SET seq = seq + 1000, leaf_index = leaf_index + 1000 WHERE leaf_index >= 6"
    )
    sql(signed, shift)
    sql(signed, "UPDATE ledger SET leaf_index = leaf_index - 999 WHERE leaf_index >= 1000")
    sixth = rows(signed)[5]
    with signed.svc.engine.begin() as conn:
        conn.execute(
            ledger.insert().values(
                seq=sixth.seq + 1,
                event_id="forged",
                type=str(event.type),
                occurred_at=event.occurred_at,
                actor=event.actor,
                outcome="success",
                canonical=forged.decode(),
                leaf_index=6,
                leaf_hash=merkle.leaf_hash(forged),
            )
        )
    code, output = _verify(signed)
    assert code == 1
    assert "an entry was inserted at index 6" in output


def test_truncation_behind_a_witnessed_head_is_caught_after_heads_are_rewritten(
    signed: World,
) -> None:
    """Removing the newest entries, their subtrees and every stored head that
    covered them still leaves the witness file's head: the ledger is too short."""
    sql(signed, "DELETE FROM ledger WHERE leaf_index >= 15")
    sql(signed, "DELETE FROM ledger_nodes WHERE (position + 1) * (1 << level) > 15")
    with signed.svc.engine.begin() as conn:
        conn.execute(tree_heads.delete())
    sign_tree_head(signed.svc)  # a fresh, validly signed head over the shortened tree
    code, output = _verify(signed)
    assert code == 1
    assert "witnessed head at size 20" in output
    assert "entries index 15..19 were removed" in output
    assert "missing from tree_heads" in output


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A webhook receiver on loopback; yields its URL and what it received."""
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/alerts", received
    server.shutdown()
    server.server_close()


def test_tamper_raises_the_alert_event_and_a_signed_webhook(
    signed: World, receiver: tuple[str, list[tuple[dict[str, str], bytes]]]
) -> None:
    url, received = receiver
    secret = "webhook-shared-secret-for-tests"
    use_settings(signed, security_webhook_url=url, security_webhook_secret=SecretStr(secret))
    target = rows(signed)[4]
    set_canonical(signed, target.seq, target.canonical.replace('"n":4', '"n":44'))
    report = audit_ledger(signed.svc, actor="test:auditor")
    assert not report.ok
    assert [p.index for p in report.problems if p.kind == "changed"] == [4]
    with signed.svc.engine.connect() as conn:
        last = conn.execute(
            select(ledger.c.type, ledger.c.canonical).order_by(ledger.c.seq.desc())
        ).first()
    assert last is not None and last.type == "audit:ledger:tamper_detected"
    assert json.loads(last.canonical)["data"]["problems"][0]["index"] == 4
    assert len(received) == 1
    headers, body = received[0]
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers[SIGNATURE_HEADER], expected)
    payload = json.loads(body)
    assert payload["type"] == "audit:ledger:tamper_detected"
    assert payload["problem_count"] >= 1
    status = latest_verification(signed.svc)
    assert status is not None and not status["ok"]


def test_unknown_key_and_forged_signature_are_reported(signed: World) -> None:
    with signed.svc.engine.begin() as conn:
        head = conn.execute(select(tree_heads)).first()
        assert head is not None
        conn.execute(
            tree_heads.insert().values(
                tree_size=head.tree_size,
                root_hash=head.root_hash,
                signed_at=head.signed_at,
                key_id=head.key_id,
                signature="A" * 88,
            )
        )
        conn.execute(
            tree_heads.insert().values(
                tree_size=head.tree_size,
                root_hash=head.root_hash,
                signed_at=head.signed_at,
                key_id="0123456789abcdef",
                signature=head.signature,
            )
        )
    code, output = _verify(signed)
    assert code == 1
    assert "bad_signature" in output and "unknown_key" in output


def test_verification_does_not_rely_on_the_stored_subtrees(signed: World) -> None:
    """Rewriting ledger_nodes alone changes nothing the verifier trusts, but the
    proofs served from them stop matching the signed head."""
    sql(signed, "UPDATE ledger_nodes SET hash = :h WHERE level = 1", h=bytes(32))
    code, output = _verify(signed)
    assert code == 0, output
    answer = entry_with_proof(signed.svc, rows(signed)[0].seq, reader=None, tree_size=20)
    assert check_entry_proof(answer, key_ring(signed.svc).public_keys()) == [
        "the inclusion proof does not lead to the root of size 20"
    ]
