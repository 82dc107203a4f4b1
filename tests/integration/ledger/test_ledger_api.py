"""Ledger endpoints (R-38): only admins and auditors read heads, entries and
proofs (others get 403 ``not_authorized``), the proofs verify with the
published keys, key rotation is logged and old heads keep verifying, and no
face offers a way to delete from the ledger."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from ledger_helpers import cli, fill, rows, signing_key

from conftest import World
from custos.api.app import create_app
from custos.cli.main import app as cli_app
from custos.domain.model import Role
from custos.ledger import merkle
from custos.ledger.heads import sign_tree_head
from custos.ledger.proofs import check_entry_proof
from custos.ledger.rotation import rotate_ledger_key
from custos.ledger.signing import load_public_key


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


def _keys(api: TestClient) -> dict[str, object]:
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
        assert check_entry_proof(answer, _keys(api)) == []  # type: ignore[arg-type]
    tampered = {**answer, "canonical": answer["canonical"].replace("notify", "n0tify")}
    assert "the entry's bytes do not hash to its leaf hash" in check_entry_proof(
        tampered, _keys(api)
    )  # type: ignore[arg-type]


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
    routes = [r for r in api.app.routes if "ledger" in getattr(r, "path", "")]  # type: ignore[attr-defined]
    assert all(getattr(r, "methods", {"GET"}) <= {"GET", "HEAD"} for r in routes)
    import typer.main

    commands = typer.main.get_command(cli_app)
    audit = commands.commands["audit"]  # type: ignore[attr-defined]
    assert set(audit.commands) == {"verify", "head", "proof", "keys"}


def test_cli_proof_checks_an_entry_locally(world: World, api: TestClient) -> None:
    seq = rows(world)[5].seq
    result = cli(world, "audit", "proof", str(seq))
    assert result.exit_code == 0, result.output + result.stderr
    assert "inclusion proof verified" in result.output
