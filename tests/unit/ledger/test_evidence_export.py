"""Building an evidence pack (``custos.ledger.evidence.export_pack``) on a real
SQLite store with one help-desk case: the zip holds exactly the documented
members, byte for byte, verifies offline with the public key alone, and the
export is recorded in the ledger before the head that covers it is signed
(R-38: evidence an auditor verifies offline; AU-10). The full recovery and
the CLI are the integration tests' (tests/integration/ledger)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update

from conftest import World, make_world, pg_database
from custos.domain.errors import NotFound
from custos.domain.events import DomainEvent, EventType
from custos.domain.model import Role
from custos.ledger import evidence, heads
from custos.ledger.evidence import (
    FORMAT,
    ZIP_TIME,
    _zip,
    entry_name,
    export_pack,
    proof_name,
    sha256_hex,
)
from custos.ledger.heads import key_ring, latest_head
from custos.ledger.pack_check import verify_pack
from custos.ledger.signing import LedgerKey, NoLedgerKey
from custos.ledger.summary import render_summary
from custos.service.recovery import cases
from custos.service.recovery.queries import case_detail
from custos.store.tables import ledger, policies, tree_heads


def _open_case(world: World) -> Case:
    world.subject("olivia")
    _other(world, 2)
    world.operator("hana", Role.REQUESTER)
    opened = cases.open_helpdesk_case(
        world.svc, world.operators["hana"], subject_id="olivia", reason="caller lost phone"
    )
    _other(world, 1)
    key = key_ring(world.svc).ensure(world.clock.now())
    return Case(world, opened.id, key)


class Case:
    def __init__(self, world: World, case_id: str, key: LedgerKey) -> None:
        self.world, self.svc, self.id, self.key = world, world.svc, case_id, key


@pytest.fixture
def case(tmp_path: Path) -> Iterator[Case]:
    """A help-desk case opened for olivia by hana, other subjects' entries
    around it, and a ledger signing key."""
    world = make_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path)
    yield _open_case(world)
    world.svc.engine.dispose()


def _other(world: World, count: int, case_id: str | None = None) -> None:
    with world.svc.uow() as uow:
        uow.ledger.append(
            [
                DomainEvent(
                    type=EventType.NOTIFICATION_SENT,
                    occurred_at=world.clock.now(),
                    actor="test:filler",
                    subject_id="someone",
                    case_id=case_id,
                    data={"n": n},
                )
                for n in range(count)
            ]
        )
        uow.commit()


def _files(pack: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(pack)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _pretty(data: Any) -> bytes:
    return json.dumps(data, indent=2, sort_keys=True).encode("utf-8")


def _case_rows(case: Case) -> list[Any]:
    with case.svc.engine.connect() as conn:
        return list(
            conn.execute(
                select(ledger.c.seq, ledger.c.leaf_index, ledger.c.canonical)
                .where(ledger.c.case_id == case.id)
                .order_by(ledger.c.seq)
            )
        )


def _counts(case: Case) -> tuple[int, int]:
    with case.svc.engine.connect() as conn:
        entries = conn.execute(select(func.count()).select_from(ledger)).scalar_one()
        heads = conn.execute(select(func.count()).select_from(tree_heads)).scalar_one()
    return int(entries), int(heads)


def test_a_pack_holds_every_entry_of_the_case_with_its_proof_and_verifies_offline(
    case: Case,
) -> None:
    """R-38: the members, their exact bytes and the manifest; the export entry
    names the case's earlier leaf indexes and the attachments' hashes, and the
    pack passes the offline check with the public key."""
    detail = case_detail(case.svc, None, case.id)
    before = [int(r.leaf_index) for r in _case_rows(case)]
    assert len(before) >= 2
    pack = export_pack(case.svc, case.id, reader=case.world.operators["hana"], actor="cli:auditor")
    report = verify_pack(pack, case.key.public)
    assert report.ok, report.failures
    rows = _case_rows(case)
    exported = json.loads(rows[-1].canonical)
    assert (exported["type"], exported["actor"]) == ("audit:evidence:exported", "cli:auditor")
    assert (exported["subject"], exported["case"]) == ("olivia", case.id)
    with case.svc.engine.connect() as conn:
        head = latest_head(conn)
    assert head is not None and head.tree_size == int(rows[-1].leaf_index) + 1
    files = _files(pack)
    attachments = {
        "case.json": _pretty(detail),
        "summary.md": render_summary(detail, policy_included=True).encode("utf-8"),
        "policy.yaml": case.svc.policy.text.encode("utf-8"),
    }
    assert exported["data"] == {
        "leaf_indexes": before,
        "files": {name: sha256_hex(data) for name, data in attachments.items()},
    }
    indexes = [int(r.leaf_index) for r in rows]
    assert sorted(files) == sorted(
        [
            "manifest.json",
            "tree_head.json",
            f"keys/{case.key.key_id}.pem",
            *attachments,
            *(entry_name(i) for i in indexes),
            *(proof_name(i) for i in indexes),
        ]
    )
    for name, data in attachments.items():
        assert files[name] == data, name
    assert files[f"keys/{case.key.key_id}.pem"] == case.key.pem.encode("ascii")
    assert files["tree_head.json"] == _pretty(head.to_json())
    for row in rows:
        assert files[entry_name(row.leaf_index)] == row.canonical.encode("utf-8")
        proof = json.loads(files[proof_name(row.leaf_index)])
        assert proof["leaf_index"] == row.leaf_index and proof["tree_size"] == head.tree_size
        assert files[proof_name(row.leaf_index)] == _pretty(proof)
    manifest = {
        "format": FORMAT,
        "case_id": case.id,
        "policy_hash": case.svc.policy.hash,
        "tree_head": "tree_head.json",
        "key": f"keys/{case.key.key_id}.pem",
        "entries": [
            {"leaf_index": r.leaf_index, "seq": r.seq, "file": entry_name(r.leaf_index)}
            for r in rows
        ],
        "attachments": {name: sha256_hex(data) for name, data in attachments.items()},
    }
    assert FORMAT == "custos-evidence/1"
    assert files["manifest.json"] == _pretty(manifest)


def test_entries_appended_after_the_head_was_signed_stay_out_of_the_pack(
    case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An entry of the case that lands between the signature and the read is
    not covered by the pack's head: it is left out, and the pack verifies."""
    sign = heads.sign_tree_head

    def sign_then_append(svc: Any) -> Any:
        head = sign(svc)
        _other(case.world, 1, case_id=case.id)
        return head

    monkeypatch.setattr(evidence, "sign_tree_head", sign_then_append)
    pack = export_pack(case.svc, case.id, reader=None)
    exported = json.loads(_case_rows(case)[-2].canonical)
    assert (exported["type"], exported["actor"]) == ("audit:evidence:exported", "cli:local")
    late = _case_rows(case)[-1]
    files = _files(pack)
    assert entry_name(late.leaf_index) not in files
    listed = [e["leaf_index"] for e in json.loads(files["manifest.json"])["entries"]]
    assert listed == [r.leaf_index for r in _case_rows(case)[:-1]]
    assert verify_pack(pack, case.key.public).ok


def test_a_reader_outside_the_case_scope_gets_not_found_and_nothing_is_recorded(
    case: Case,
) -> None:
    """Scope does not leak which cases exist, and a refused export leaves no
    trace in the ledger and signs no head."""
    case.world.operator("nina", Role.AUDITOR, scope=("contractors",))
    before = _counts(case)
    with pytest.raises(NotFound):
        export_pack(case.svc, case.id, reader=case.world.operators["nina"])
    assert _counts(case) == before


def test_without_a_signing_key_nothing_is_recorded_and_no_head_is_signed(
    case: Case,
) -> None:
    """No pack can be signed, so none is said to have gone out (R-38): the
    refusal comes before the export entry, not after it."""
    for path in case.svc.settings.effective_ledger_keys_dir.glob("*.key"):
        path.unlink()
    before = _counts(case)
    with pytest.raises(NoLedgerKey):
        export_pack(case.svc, case.id, reader=None)
    assert _counts(case) == before


def test_the_policy_text_is_the_stored_one_else_the_running_one_if_its_hash_matches(
    case: Case,
) -> None:
    """The pack includes the text stored under the case's policy hash; when
    none is stored, the running policy's text if it has that hash; otherwise
    no policy.yaml, and the summary says so."""
    stored = "version: 1  # as stored\n"
    with case.svc.engine.begin() as conn:
        conn.execute(update(policies).values(text=stored))
    files = _files(export_pack(case.svc, case.id, reader=None))
    assert files["policy.yaml"] == stored.encode()
    with case.svc.engine.begin() as conn:
        conn.execute(delete(policies))
    files = _files(export_pack(case.svc, case.id, reader=None))
    assert files["policy.yaml"] == case.svc.policy.text.encode()
    assert "(text not stored: not included)" not in files["summary.md"].decode()
    case.svc.policy = replace(case.svc.policy, hash="sha256:" + "0" * 64)
    files = _files(export_pack(case.svc, case.id, reader=None))
    assert "policy.yaml" not in files
    assert "(text not stored: not included)" in files["summary.md"].decode()
    manifest = json.loads(files["manifest.json"])
    assert sorted(manifest["attachments"]) == ["case.json", "summary.md"]
    exported = json.loads(_case_rows(case)[-1].canonical)
    assert sorted(exported["data"]["files"]) == ["case.json", "summary.md"]


def test_member_names_and_the_zip_are_fixed_so_the_same_content_gives_the_same_bytes() -> None:
    assert entry_name(7) == "entries/000000000007.json"
    assert proof_name(123456789012) == "proofs/123456789012.json"
    assert sha256_hex(b"abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    data = {"b.txt": b"bee " * 50, "a/x.json": b"{}", "c": b""}
    first = _zip(data)
    assert _zip(dict(reversed(list(data.items())))) == first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == ["a/x.json", "b.txt", "c"]
        assert {i.date_time for i in infos} == {ZIP_TIME} == {(2000, 1, 1, 0, 0, 0)}
        assert {i.compress_type for i in infos} == {zipfile.ZIP_DEFLATED}
        assert archive.read("b.txt") == data["b.txt"]
        assert archive.getinfo("b.txt").compress_size < len(data["b.txt"])


def test_the_export_entry_lists_the_case_leaf_indexes_in_ascending_order(case: Case) -> None:
    """Whatever order the rows come back in: here two of the case's rows
    were renumbered (with plain SQL) so that ``seq`` order is not leaf order."""
    first, second = _case_rows(case)[:2]
    with case.svc.engine.begin() as conn:
        for seq, index in ((first.seq, -1), (second.seq, first.leaf_index)):
            conn.execute(update(ledger).where(ledger.c.seq == seq).values(leaf_index=index))
        conn.execute(
            update(ledger).where(ledger.c.seq == first.seq).values(leaf_index=second.leaf_index)
        )
    indexes = sorted(int(r.leaf_index) for r in _case_rows(case))
    export_pack(case.svc, case.id, reader=None)
    exported = json.loads(_case_rows(case)[-1].canonical)
    assert exported["data"]["leaf_indexes"] == indexes


def test_the_manifest_lists_entries_in_ledger_order_whatever_the_row_order(
    tmp_path: Path,
) -> None:
    """On PostgreSQL a row whose indexed column was changed (and changed
    back) is a new row version, met last by a scan of the case's rows: the
    pack still lists the case's entries in ``seq`` order."""
    with pg_database() as url:
        world = make_world(url, tmp_path)
        try:
            case = _open_case(world)
            first = _case_rows(case)[0]
            with world.svc.engine.begin() as conn:  # away and back: a new row version
                for owner in ("elsewhere", case.id):
                    conn.execute(
                        update(ledger).where(ledger.c.seq == first.seq).values(case_id=owner)
                    )
            files = _files(export_pack(case.svc, case.id, reader=None))
            listed = [e["seq"] for e in json.loads(files["manifest.json"])["entries"]]
            assert listed == [r.seq for r in _case_rows(case)]
        finally:
            world.svc.engine.dispose()
