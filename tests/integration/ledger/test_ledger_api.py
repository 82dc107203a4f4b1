"""Ledger endpoints (R-38): only admins and auditors read heads, entries and
proofs (others get 403 ``not_authorized``), the proofs verify with the
published keys, key rotation is logged and old heads keep verifying, and no
face offers a way to delete from the ledger."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import FastAPI
from fastapi.testclient import TestClient
from ledger_helpers import cli, fill, rows, signing_key
from sqlalchemy import select

from conftest import World
from custos.api.app import create_app
from custos.cli.main import app as cli_app
from custos.domain.events import DomainEvent, EventType
from custos.domain.model import Role
from custos.ledger import merkle
from custos.ledger.heads import sign_tree_head
from custos.ledger.proofs import check_entry_proof
from custos.ledger.rotation import rotate_ledger_key
from custos.ledger.signing import load_public_key
from custos.store.tables import ledger


@pytest.fixture
def api(world: World) -> Iterator[TestClient]:
    world.operator("audrey", Role.AUDITOR)
    world.operator("adam", Role.ADMIN)
    world.operator("hana", Role.REQUESTER)
    world.operator("ada", Role.APPROVER)
    fill(world, 10)
    signing_key(world)
    sign_tree_head(world.svc)
    with TestClient(create_app(world.svc)) as client:
        yield client


def _auth(world: World, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[name]}"}


def _keys(api: TestClient) -> dict[str, Ed25519PublicKey]:
    return {
        k["key_id"]: load_public_key(k["public_key_pem"].encode())
        for k in api.get("/api/v1/ledger/keys").json()["keys"]
    }


LEDGER_READS = [
    "/api/v1/ledger/heads/latest",
    "/api/v1/ledger/entries/1",
    "/api/v1/ledger/consistency?first=1",
]


@pytest.mark.parametrize("path", LEDGER_READS)
def test_ledger_reads_are_refused_to_other_roles(world: World, api: TestClient, path: str) -> None:
    for name in ("hana", "ada"):
        response = api.get(path, headers=_auth(world, name))
        assert response.status_code == 403
        assert response.json()["error"]["id"] == "not_authorized"
    assert api.get(path).status_code == 401
    for name in ("audrey", "adam"):
        assert api.get(path, headers=_auth(world, name)).status_code == 200


def test_entry_proof_from_the_api_verifies_with_the_published_key(
    world: World, api: TestClient
) -> None:
    head = api.get("/api/v1/ledger/heads/latest", headers=_auth(world, "audrey")).json()
    assert head["tree_size"] == 14  # 4 operators created + 10 entries
    for row in rows(world)[:14]:
        answer = api.get(f"/api/v1/ledger/entries/{row.seq}", headers=_auth(world, "audrey")).json()
        assert answer["leaf_index"] == row.leaf_index
        assert check_entry_proof(answer, _keys(api)) == []
    tampered = {**answer, "canonical": answer["canonical"].replace("notify", "n0tify")}
    assert "the entry's bytes do not hash to its leaf hash" in check_entry_proof(
        tampered, _keys(api)
    )


def test_entry_newer_than_the_signed_head_is_not_covered(world: World, api: TestClient) -> None:
    fill(world, 1)
    newest = rows(world)[-1].seq
    response = api.get(f"/api/v1/ledger/entries/{newest}", headers=_auth(world, "adam"))
    assert response.status_code == 422
    assert response.json()["error"]["id"] == "entry_not_covered"
    assert api.get("/api/v1/ledger/entries/999999", headers=_auth(world, "adam")).status_code == 404


def test_consistency_proof_between_two_signed_heads_verifies(world: World, api: TestClient) -> None:
    first = api.get("/api/v1/ledger/heads/latest", headers=_auth(world, "audrey")).json()
    fill(world, 9)
    second_head = sign_tree_head(world.svc)
    answer = api.get(
        f"/api/v1/ledger/consistency?first={first['tree_size']}", headers=_auth(world, "audrey")
    ).json()
    assert answer["second"] == second_head.tree_size
    assert answer["first_head"]["root_hash"] == first["root_hash"]
    assert merkle.verify_consistency(
        first["tree_size"],
        second_head.tree_size,
        bytes.fromhex(first["root_hash"]),
        bytes.fromhex(second_head.root_hash),
        [bytes.fromhex(h) for h in answer["consistency_proof"]],
    )
    bad = api.get("/api/v1/ledger/consistency?first=50&second=3", headers=_auth(world, "audrey"))
    assert bad.status_code == 422


def test_rotated_key_signs_new_heads_and_old_heads_still_verify(
    world: World, api: TestClient
) -> None:
    """R-36: a key rotation is a ledger event; R-38: older heads stay verifiable."""
    old = signing_key(world)
    new = rotate_ledger_key(world.svc, actor="test:admin")
    assert new.key_id != old.key_id
    head = sign_tree_head(world.svc)
    assert head.key_id == new.key_id
    listed = api.get("/api/v1/ledger/keys").json()["keys"]
    assert [k["key_id"] for k in listed] == [old.key_id, new.key_id]
    assert [k["active"] for k in listed] == [False, True]
    last = rows(world)[-1]
    assert '"type":"admin:ledger_key:rotated"' in last.canonical
    assert new.key_id in last.canonical and "PRIVATE" not in last.canonical
    result = cli(world, "audit", "verify")
    assert result.exit_code == 0, result.output + result.stderr
    assert "2 signed head(s)" in result.output


def test_no_face_offers_a_way_to_delete_ledger_entries(world: World, api: TestClient) -> None:
    for path in ("/api/v1/ledger/entries/1", "/api/v1/ledger/heads/latest"):
        assert api.delete(path, headers=_auth(world, "adam")).status_code == 405
    app = api.app
    assert isinstance(app, FastAPI)
    routes = [r for r in app.routes if "ledger" in getattr(r, "path", "")]
    assert all(getattr(r, "methods", {"GET"}) <= {"GET", "HEAD"} for r in routes)
    import typer.core
    import typer.main

    commands = typer.main.get_command(cli_app)
    assert isinstance(commands, typer.core.TyperGroup)
    audit = commands.commands["audit"]
    assert isinstance(audit, typer.core.TyperGroup)
    assert set(audit.commands) == {"verify", "head", "proof", "keys"}


def test_cli_proof_checks_an_entry_locally(world: World, api: TestClient) -> None:
    seq = rows(world)[5].seq
    result = cli(world, "audit", "proof", str(seq))
    assert result.exit_code == 0, result.output + result.stderr
    assert "inclusion proof verified" in result.output


def _seq_of(world: World, *, subject_id: str | None, case_id: str | None = None) -> int:
    with world.svc.engine.connect() as conn:
        seq = (
            conn.execute(
                select(ledger.c.seq)
                .where(
                    ledger.c.subject_id.is_(None)
                    if subject_id is None
                    else ledger.c.subject_id == subject_id
                )
                .where(
                    ledger.c.case_id.is_(None) if case_id is None else ledger.c.case_id == case_id
                )
                .order_by(ledger.c.seq)
            )
            .scalars()
            .first()
        )
    assert seq is not None, (subject_id, case_id)
    return int(seq)


def test_entries_outside_the_readers_scope_answer_as_missing(world: World, api: TestClient) -> None:
    """R-38 with scope (R-32): an auditor or admin scoped to ``contractors``
    reads entries about contractors and entries about no subject, but an entry
    about a staff subject, about a staff subject's case, or about a subject the
    directory no longer knows answers 404 with the body of a missing entry; a
    ``*`` scope reads them all."""
    world.subject("olivia")  # staff
    world.subject("kim", groups=("contractors",))
    world.operator("cora", Role.AUDITOR, scope=("contractors",))
    world.operator("carl", Role.ADMIN, scope=("contractors",))
    opened = api.post(
        "/api/v1/cases", headers=_auth(world, "hana"), json={"subject": "olivia", "reason": "call"}
    )
    assert opened.status_code == 201, opened.text
    staff_case = opened.json()["id"]
    with world.svc.uow() as uow:
        uow.ledger.append(
            [
                DomainEvent(
                    type=EventType.NOTIFICATION_SENT,
                    occurred_at=world.clock.now(),
                    actor="test",
                    subject_id=subject,
                    case_id=case,
                )
                for subject, case in (("kim", None), ("olivia", None), (None, staff_case))
            ]
        )
        uow.commit()
    sign_tree_head(world.svc)
    about_kim = _seq_of(world, subject_id="kim")
    about_olivia = _seq_of(world, subject_id="olivia")
    about_staff_case = _seq_of(world, subject_id="olivia", case_id=staff_case)
    about_case_only = _seq_of(world, subject_id=None, case_id=staff_case)
    about_nobody = _seq_of(world, subject_id=None)  # an operator was created
    about_unknown = rows(world)[4].seq  # fill(): subject "s0", not in the directory
    missing = api.get("/api/v1/ledger/entries/999999", headers=_auth(world, "cora"))
    assert missing.status_code == 404
    for name in ("cora", "carl"):
        for seq in (about_olivia, about_staff_case, about_case_only, about_unknown):
            hidden = api.get(f"/api/v1/ledger/entries/{seq}", headers=_auth(world, name))
            assert hidden.status_code == 404, (name, seq, hidden.text)
            assert hidden.json() == {
                "error": {
                    **missing.json()["error"],
                    "message": missing.json()["error"]["message"].replace("999999", str(seq)),
                }
            }
        for seq in (about_kim, about_nobody):
            shown = api.get(f"/api/v1/ledger/entries/{seq}", headers=_auth(world, name))
            assert shown.status_code == 200, (name, seq, shown.text)
            assert shown.json()["seq"] == seq
    for seq in (about_kim, about_olivia, about_staff_case, about_case_only, about_unknown):
        everyone = api.get(f"/api/v1/ledger/entries/{seq}", headers=_auth(world, "audrey"))
        assert everyone.status_code == 200, (seq, everyone.text)
