"""Evidence packs (R-38, AU-10): a completed recovery exports to a zip that
verifies offline with the public key alone, through the CLI and the API; each
kind of alteration is reported naming the file; no secret is in any entry (R-37)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from ledger_helpers import cli, rows, signing_key
from sqlalchemy import Table, func, select
from typer.testing import CliRunner

from conftest import World
from custos.api.app import create_app
from custos.cli.main import app
from custos.domain.model import Role
from custos.ledger.evidence import export_pack
from custos.ledger.pack_check import verify_pack
from custos.service.recovery import credentials, self_service
from custos.store.tables import ledger, tree_heads

PASSWORD = "marble-lantern-quiver-27-fjord"


@pytest.fixture
def completed(world: World) -> tuple[World, str, dict[str, str]]:
    """A self-service recovery proofed by e-mail code, redeemed and propagated;
    returns the world, the case id and the secrets that went by."""
    world.subject("olivia")
    flow = self_service.start(world.svc, identifier="olivia", source_address="10.0.0.9")
    self_service.request_email_code(world.svc, handle=flow)
    code = world.last_code("olivia")
    self_service.submit_proof(world.svc, handle=flow, method="email_code", response=code)
    token = world.last_link_token("olivia")
    case_id = credentials.redeem(world.svc, token=token, new_password=PASSWORD).case_id
    world.drain()
    signing_key(world)
    return world, case_id, {"password": PASSWORD, "token": token, "code": code, "flow": flow}


def _pack(world: World, case_id: str, tmp_path: Path) -> tuple[Path, Path]:
    pack, key = tmp_path / "pack.zip", tmp_path / "key.pem"
    result = cli(world, "evidence", "export", case_id, "-o", str(pack))
    assert result.exit_code == 0, result.output + result.stderr
    key.write_text(signing_key(world).pem)
    return pack, key


def _rewrite(pack: Path, change: dict[str, bytes | None]) -> None:
    with zipfile.ZipFile(pack) as archive:
        files = {n: archive.read(n) for n in archive.namelist()}
    for name, data in change.items():
        if data is None:
            files.pop(name)
        else:
            files[name] = data
    with zipfile.ZipFile(pack, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)


def _files(pack: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(pack) as archive:
        return {n: archive.read(n) for n in archive.namelist()}


def test_exported_pack_verifies_offline_and_tells_the_story(
    completed: tuple[World, str, dict[str, str]], tmp_path: Path
) -> None:
    world, case_id, _ = completed
    pack, key = _pack(world, case_id, tmp_path)
    world.svc.engine.dispose()  # offline: the verifier never touches the store
    result = cli(world, "evidence", "verify", str(pack), "--key", str(key))
    assert result.exit_code == 0, result.output + result.stderr
    assert f"evidence pack verified: case {case_id}" in result.output
    files = _files(pack)
    summary = files["summary.md"].decode()
    for heading in (
        "Who requested",
        "How the subject was proofed",
        "Who approved",
        "Who executed",
        "Which systems changed",
        "What was checked afterwards",
    ):
        assert f"## {heading}" in summary
    assert "| directory | olivia | yes | succeeded |" in summary
    assert "read_back" in summary
    assert files["policy.yaml"].decode() == world.svc.policy.text
    case = json.loads(files["case.json"])
    assert case["receipts"][0]["state"] == "succeeded"
    types = {json.loads(files[n])["type"] for n in files if n.startswith("entries/")}
    assert {
        "case:case:opened",
        "policy:case:tier_selected",
        "audit:evidence:exported",
        "propagation:receipt:succeeded",
    } <= types


def _alterations(files: dict[str, bytes]) -> dict[str, tuple[dict[str, bytes | None], str]]:
    entries = sorted(n for n in files if n.startswith("entries/"))
    first, second = entries[0], entries[1]
    proof = "proofs/" + first.split("/")[1]
    head = json.loads(files["tree_head.json"])
    path = json.loads(files[proof])
    path["inclusion_proof"][0] = "00" * 32
    manifest = json.loads(files["manifest.json"])
    manifest["entries"] = [e for e in manifest["entries"] if e["file"] != second]
    return {
        "entry": ({first: files[first].replace(b"olivia", b"mallory")}, f"{first}: entry index"),
        "proof": ({proof: json.dumps(path).encode()}, f"{first}: entry index"),
        "head": (
            {"tree_head.json": json.dumps({**head, "tree_size": head["tree_size"] + 1}).encode()},
            "tree_head.json: the signature does not verify",
        ),
        "policy": (
            {"policy.yaml": files["policy.yaml"] + b"\n# relaxed\n"},
            "policy.yaml: altered",
        ),
        "summary": ({"summary.md": b"# all fine\n"}, "summary.md: altered"),
        "case": ({"case.json": b"{}"}, "case.json: altered"),
        "removed entry": (
            {second: None, "manifest.json": json.dumps(manifest).encode()},
            f"{second}: entry index",
        ),
        "extra file": ({"entries/999999999999.json": b"{}"}, "entries/999999999999.json: not part"),
    }


@pytest.mark.parametrize(
    "kind", ["entry", "proof", "head", "policy", "summary", "case", "removed entry", "extra file"]
)
def test_each_alteration_of_the_pack_is_reported_by_file(
    completed: tuple[World, str, dict[str, str]], tmp_path: Path, kind: str
) -> None:
    world, case_id, _ = completed
    pack, key = _pack(world, case_id, tmp_path)
    change, expected = _alterations(_files(pack))[kind]
    _rewrite(pack, change)
    result = cli(world, "evidence", "verify", str(pack), "--key", str(key))
    assert result.exit_code == 1
    assert expected in result.stderr, result.stderr


def test_pack_checked_with_another_key_fails(
    completed: tuple[World, str, dict[str, str]], tmp_path: Path
) -> None:
    world, case_id, _ = completed
    pack, _ = _pack(world, case_id, tmp_path)
    from custos.ledger.signing import KeyRing

    stranger = KeyRing(tmp_path / "other").generate(world.clock.now())
    report = verify_pack(pack, stranger.public)
    assert not report.ok
    assert report.failures == [
        f"tree_head.json: signed by key {signing_key(world).key_id}, "
        f"not by the given key {stranger.key_id}"
    ]


def test_pack_verifies_by_default_with_the_deployments_ledger_key_folder(
    completed: tuple[World, str, dict[str, str]], tmp_path: Path
) -> None:
    """Beside the deployment, no --key: the key the pack's head names is taken
    from the configured ledger key folder (never from the pack)."""
    world, case_id, _ = completed
    pack, _ = _pack(world, case_id, tmp_path)
    folder = world.svc.settings.effective_ledger_keys_dir
    result = cli(world, "evidence", "verify", str(pack))
    assert result.exit_code == 0, result.output + result.stderr
    assert f"trusted key {signing_key(world).key_id} from {folder}" in result.output
    assert f"evidence pack verified: case {case_id}" in result.output


def test_pack_verifies_with_the_folder_audit_keys_exports(
    completed: tuple[World, str, dict[str, str]], tmp_path: Path
) -> None:
    """``--key FOLDER`` picks, among the keys there, the one the head names."""
    world, case_id, _ = completed
    pack, _ = _pack(world, case_id, tmp_path)
    exported = tmp_path / "auditor-keys"
    assert cli(world, "audit", "keys", "--export", str(exported)).exit_code == 0
    from custos.ledger.signing import KeyRing

    stranger = KeyRing(tmp_path / "other").generate(world.clock.now())
    (exported / "0-stranger.pem").write_text(stranger.pem)
    result = cli(world, "evidence", "verify", str(pack), "--key", str(exported))
    assert result.exit_code == 0, result.output + result.stderr
    assert f"trusted key {signing_key(world).key_id} from {exported}" in result.output


def test_pack_without_a_trusted_key_says_where_the_key_comes_from(
    completed: tuple[World, str, dict[str, str]], tmp_path: Path
) -> None:
    world, case_id, _ = completed
    pack, _ = _pack(world, case_id, tmp_path)
    elsewhere = tmp_path / "not-the-deployment"
    env: dict[str, str | None] = {
        "CUSTOS_CONFIG": None,
        "CUSTOS_LEDGER_KEYS_DIR": None,
        "CUSTOS_DATA_DIR": None,
    }
    result = CliRunner().invoke(
        app, ["--data-dir", str(elsewhere), "evidence", "verify", str(pack)], env=env
    )
    assert result.exit_code == 1
    message = " ".join(result.stderr.split())
    assert "[no_trusted_key]" in message
    assert f"signed by ledger key {signing_key(world).key_id}" in message
    assert "custos audit keys --export DIR" in message and "--key" in message, message


def test_pack_with_a_key_folder_lacking_its_key_is_refused_naming_the_key(
    completed: tuple[World, str, dict[str, str]], tmp_path: Path
) -> None:
    world, case_id, _ = completed
    pack, _ = _pack(world, case_id, tmp_path)
    from custos.ledger.signing import KeyRing

    strangers = tmp_path / "strangers"
    KeyRing(strangers).generate(world.clock.now())
    result = cli(world, "evidence", "verify", str(pack), "--key", str(strangers))
    assert result.exit_code == 1
    message = " ".join(result.stderr.split())
    assert "[no_trusted_key]: the pack's head is signed by ledger key " in message
    assert f"{strangers} holds no key {signing_key(world).key_id}" in message, message


def test_evidence_verify_help_says_where_the_key_comes_from(world: World) -> None:
    result = cli(world, "evidence", "verify", "--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "custos audit keys --export DIR" in text, text
    assert "ledger key folder" in text


def test_pack_downloads_through_the_api_for_auditors_only(
    completed: tuple[World, str, dict[str, str]],
) -> None:
    world, case_id, _ = completed
    world.operator("audrey", Role.AUDITOR)
    world.operator("hana", Role.REQUESTER)
    with TestClient(create_app(world.svc)) as api:
        refused = api.post(
            f"/api/v1/cases/{case_id}/evidence",
            headers={"Authorization": f"Bearer {world.tokens['hana']}"},
        )
        assert refused.status_code == 403
        assert refused.json()["error"]["id"] == "not_authorized"
        response = api.post(
            f"/api/v1/cases/{case_id}/evidence",
            headers={"Authorization": f"Bearer {world.tokens['audrey']}"},
        )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert verify_pack(response.content, signing_key(world).public).ok
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        exported = json.loads(archive.read("manifest.json"))
    assert exported["case_id"] == case_id


def test_pack_of_a_case_outside_the_scope_answers_as_an_unknown_case(
    completed: tuple[World, str, dict[str, str]],
) -> None:
    """R-38 with scope (R-32): an auditor or admin scoped to ``contractors``
    gets 404, with the body an unknown case gets, for a staff subject's pack;
    nothing is recorded and no head is signed for the refused export."""
    world, case_id, _ = completed
    world.operator("cora", Role.AUDITOR, scope=("contractors",))
    world.operator("carl", Role.ADMIN, scope=("contractors",))
    before = (_count(world, ledger), _count(world, tree_heads))
    with TestClient(create_app(world.svc)) as api:
        unknown = api.post(
            "/api/v1/cases/case-unknown/evidence",
            headers={"Authorization": f"Bearer {world.tokens['cora']}"},
        )
        assert unknown.status_code == 404
        for name in ("cora", "carl"):
            hidden = api.post(
                f"/api/v1/cases/{case_id}/evidence",
                headers={"Authorization": f"Bearer {world.tokens[name]}"},
            )
            assert hidden.status_code == 404, (name, hidden.text)
            assert hidden.text == unknown.text.replace("case-unknown", case_id)
    assert (_count(world, ledger), _count(world, tree_heads)) == before


def _count(world: World, table: Table) -> int:
    with world.svc.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_no_secret_enters_any_ledger_entry(
    completed: tuple[World, str, dict[str, str]],
) -> None:
    """R-37: the password, the reset token, the e-mail code, the flow handle
    and the signing key never appear in the ledger, nor in a pack."""
    world, case_id, secrets = completed
    pack = export_pack(world.svc, case_id, reader=None)
    with zipfile.ZipFile(io.BytesIO(pack)) as archive:
        packed = b"".join(archive.read(n) for n in archive.namelist())
    everything = "\n".join(r.canonical for r in rows(world))
    for name, value in secrets.items():
        assert value not in everything, name
        assert value.encode() not in packed, name
    assert "PRIVATE KEY" not in everything and b"PRIVATE KEY" not in packed
