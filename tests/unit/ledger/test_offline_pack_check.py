"""Offline verification of an evidence pack (``custos.ledger.pack_check``), with
packs built here in memory exactly as ``evidence.export_pack`` lays them out:
every alteration is named by file and entry index, and a pack passes only
when every part holds (R-38: tampering is detected)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custos.ledger import merkle
from custos.ledger.evidence import _json, _zip, entry_name, proof_name
from custos.ledger.pack_check import (
    EXPORTED,
    FORMAT,
    TIER_SELECTED,
    PackReport,
    head_key_id,
    trusted_keys,
    verify_pack,
)
from custos.ledger.signing import KeyRingError, LedgerKey, key_id_of, public_pem, sign_head

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CASE = "case-1"
POLICY = b"version: 1\n"
POLICY_HASH = "sha256:" + hashlib.sha256(POLICY).hexdigest()


def _key() -> LedgerKey:
    private = Ed25519PrivateKey.generate()
    public = private.public_key()
    return LedgerKey(key_id_of(public), "t", public, private)


def _canon(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()


class Pack:
    """The members of a pack of case ``CASE``: ledger entries 1 (tier selected),
    3 (a case step) and 5 (the export) in a tree of 7 leaves, with other cases'
    entries between them."""

    def __init__(self, key: LedgerKey | None = None) -> None:
        self.key = key or _key()
        attachments = {"case.json": b'{"id": "case-1"}', "summary.md": b"# case-1\n"}
        attachments["policy.yaml"] = POLICY
        entries: list[dict[str, Any]] = [
            {"case": "other", "type": "x", "data": {}},
            {"case": CASE, "type": TIER_SELECTED, "data": {"policy_hash": POLICY_HASH}},
            {"case": "other", "type": "x", "data": {}},
            {"case": CASE, "type": "case:step", "data": {}},
            {"case": "other", "type": "x", "data": {}},
            {
                "case": CASE,
                "type": EXPORTED,
                "data": {
                    "leaf_indexes": [1, 3],
                    "files": {n: hashlib.sha256(d).hexdigest() for n, d in attachments.items()},
                },
            },
            {"case": "other", "type": "x", "data": {}},
        ]
        self.leaves = [_canon(e) for e in entries]
        tree = merkle.MemoryTree(merkle.leaf_hash(b) for b in self.leaves)
        head = sign_head(self.key, len(self.leaves), tree.root(), NOW)
        self.members: dict[str, bytes] = {}
        listed = []
        for index in (1, 3, 5):
            self.members[entry_name(index)] = self.leaves[index]
            path = merkle.inclusion_proof(index, len(self.leaves), tree)
            self.members[proof_name(index)] = _json(
                {
                    "leaf_index": index,
                    "tree_size": len(self.leaves),
                    "inclusion_proof": [h.hex() for h in path],
                }
            )
            listed.append({"leaf_index": index, "seq": index + 1, "file": entry_name(index)})
        self.members["tree_head.json"] = _json(head.to_json())
        self.members[f"keys/{self.key.key_id}.pem"] = self.key.pem.encode("ascii")
        self.members.update(attachments)
        self.manifest: dict[str, Any] = {
            "format": FORMAT,
            "case_id": CASE,
            "policy_hash": POLICY_HASH,
            "tree_head": "tree_head.json",
            "key": f"keys/{self.key.key_id}.pem",
            "entries": listed,
        }

    def head(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.members["tree_head.json"])
        return data

    def zip(self) -> bytes:
        return _zip({**self.members, "manifest.json": _json(self.manifest)})

    def check(self) -> PackReport:
        return verify_pack(self.zip(), self.key.public)


def test_an_intact_pack_verifies_and_names_what_held() -> None:
    pack = Pack()
    report = pack.check()
    assert report.failures == []
    assert report.ok
    assert report.case_id == CASE
    assert report.entries == 3
    assert report.tree_size == 7
    assert report.head is not None and report.head.to_json() == pack.head()
    assert report.checked == [
        f"tree_head.json: signed by key {pack.key.key_id}",
        "3 entries: leaf hashes and inclusion proofs hold",
        "case.json: matches the ledger",
        "policy.yaml: matches the ledger",
        "summary.md: matches the ledger",
        f"policy.yaml: is the policy the case froze ({POLICY_HASH})",
    ]


def test_a_pack_read_from_a_path_verifies_like_its_bytes(tmp_path: Path) -> None:
    pack = Pack()
    path = tmp_path / "pack.zip"
    path.write_bytes(pack.zip())
    assert verify_pack(path, pack.key.public).ok
    assert head_key_id(path) == pack.key.key_id
    assert head_key_id(pack.zip()) == pack.key.key_id


def test_a_report_with_nothing_checked_is_not_ok() -> None:
    assert not PackReport().ok
    assert PackReport(checked=["x"]).ok
    assert not PackReport(checked=["x"], failures=["y"]).ok


def test_what_is_not_a_zip_fails_at_once(tmp_path: Path) -> None:
    key = _key()
    report = verify_pack(b"not a zip", key.public)
    assert len(report.failures) == 1
    assert report.failures[0].startswith("pack: not a readable zip (")
    assert not report.checked
    missing = verify_pack(tmp_path / "absent.zip", key.public)
    assert missing.failures[0].startswith("pack: not a readable zip (")
    assert head_key_id(b"not a zip") is None
    assert head_key_id(tmp_path / "absent.zip") is None


def _failures(pack: Pack) -> list[str]:
    report = pack.check()
    assert not report.ok
    return report.failures


def test_a_manifest_missing_or_of_another_format_stops_the_check() -> None:
    no_manifest = _zip(Pack().members)
    report = verify_pack(no_manifest, _key().public)
    assert report.failures == [
        "manifest.json: missing from the pack",
        f"manifest.json: not a {FORMAT} manifest",
    ]
    pack = Pack()
    pack.manifest["format"] = "custos-evidence/2"
    assert _failures(pack) == [f"manifest.json: not a {FORMAT} manifest"]
    bad_json = Pack()
    report = verify_pack(
        _zip({**bad_json.members, "manifest.json": b"{not json"}), bad_json.key.public
    )
    assert report.failures == [
        "manifest.json: not JSON",
        f"manifest.json: not a {FORMAT} manifest",
    ]
    listed = Pack()
    report = verify_pack(_zip({**listed.members, "manifest.json": b"[]"}), listed.key.public)
    assert report.failures == [f"manifest.json: not a {FORMAT} manifest"]


def test_a_head_signed_by_another_key_is_refused() -> None:
    pack = Pack()
    other = _key()
    report = verify_pack(pack.zip(), other.public)
    assert report.failures == [
        f"tree_head.json: signed by key {pack.key.key_id}, not by the given key {other.key_id}"
    ]
    assert report.head is None and report.tree_size == 0


def test_an_altered_head_is_refused() -> None:
    pack = Pack()
    head = pack.head()
    head["tree_size"] = 6
    pack.members["tree_head.json"] = _json(head)
    assert _failures(pack) == [
        "tree_head.json: the signature does not verify (the head was altered)"
    ]


def test_a_malformed_or_missing_head_is_named() -> None:
    pack = Pack()
    head = pack.head()
    del head["signature"]
    pack.members["tree_head.json"] = _json(head)
    [failure] = _failures(pack)
    assert failure.startswith("tree_head.json: malformed tree head: ")
    gone = Pack()
    del gone.members["tree_head.json"]
    assert _failures(gone) == ["tree_head.json: missing from the pack"]


def test_the_manifest_names_the_head_file() -> None:
    pack = Pack()
    pack.members["head.json"] = pack.members.pop("tree_head.json")
    pack.manifest["tree_head"] = "head.json"
    report = pack.check()
    assert report.ok, report.failures
    assert report.checked[0] == f"head.json: signed by key {pack.key.key_id}"
    assert head_key_id(pack.zip()) == pack.key.key_id


def test_the_head_file_defaults_to_tree_head_json() -> None:
    pack = Pack()
    del pack.manifest["tree_head"]
    assert pack.check().ok
    assert head_key_id(pack.zip()) == pack.key.key_id


def test_head_key_id_is_none_when_the_pack_does_not_say() -> None:
    pack = Pack()
    head = pack.head()
    del head["key_id"]
    pack.members["tree_head.json"] = _json(head)
    assert head_key_id(pack.zip()) is None
    assert head_key_id(_zip(pack.members)) is None  # no manifest
    not_json = Pack()
    not_json.members["tree_head.json"] = b"{"
    assert head_key_id(not_json.zip()) is None
    listed = Pack()
    listed.members["tree_head.json"] = b"[]"
    assert head_key_id(listed.zip()) is None
    text = Pack()
    assert head_key_id(_zip({**text.members, "manifest.json": b'"text"'})) is None


def test_an_altered_entry_is_named_with_its_proof() -> None:
    pack = Pack()
    pack.members[entry_name(3)] = pack.members[entry_name(3)].replace(b"step", b"stop")
    assert _failures(pack) == [
        f"{entry_name(3)}: entry index 3 is not in the signed tree "
        f"(the entry or {proof_name(3)} was altered)",
        f"entries/{3:012d}.json: entry index 3 of the case is missing",
    ]


def test_an_altered_proof_is_refused() -> None:
    pack = Pack()
    proof = json.loads(pack.members[proof_name(1)])
    proof["inclusion_proof"][0] = "00" * 32
    pack.members[proof_name(1)] = _json(proof)
    assert _failures(pack)[0].startswith(f"{entry_name(1)}: entry index 1 is not in the signed")


def test_a_missing_entry_or_proof_is_named() -> None:
    pack = Pack()
    del pack.members[entry_name(3)]
    assert _failures(pack) == [
        f"{entry_name(3)}: entry index 3 is missing from the pack",
        f"entries/{3:012d}.json: entry index 3 of the case is missing",
        f"{proof_name(3)}: not part of the pack as exported",
    ]
    no_proof = Pack()
    del no_proof.members[proof_name(3)]
    assert _failures(no_proof) == [
        f"{proof_name(3)}: missing from the pack",
        f"entries/{3:012d}.json: entry index 3 of the case is missing",
    ]


@pytest.mark.parametrize(
    "proof",
    [
        {"tree_size": 7, "leaf_index": 3},
        {"inclusion_proof": ["zz"], "tree_size": 7, "leaf_index": 3},
        {"inclusion_proof": [], "tree_size": "seven", "leaf_index": 3},
        {"inclusion_proof": [], "leaf_index": 3},
        {"inclusion_proof": 5, "tree_size": 7, "leaf_index": 3},
    ],
)
def test_a_malformed_proof_is_named(proof: dict[str, Any]) -> None:
    pack = Pack()
    pack.members[proof_name(3)] = _json(proof)
    assert _failures(pack)[0] == f"{proof_name(3)}: malformed inclusion proof"


def _first_entry_fails(change: str) -> PackReport:
    """Break the first listed entry (index 1) one way; the others are still checked."""
    pack = Pack()
    proof = json.loads(pack.members[proof_name(1)])
    if change == "malformed":
        del proof["inclusion_proof"]
    elif change == "other tree":
        proof["tree_size"] = 8
    elif change == "other case":
        entry = json.loads(pack.leaves[1])
        entry["case"] = "other"
        pack.leaves[1] = _canon(entry)
        tree = merkle.MemoryTree(merkle.leaf_hash(b) for b in pack.leaves)
        return _resigned(pack, tree)
    pack.members[proof_name(1)] = _json(proof)
    return pack.check()


def _resigned(pack: Pack, tree: merkle.MemoryTree) -> PackReport:
    head = sign_head(pack.key, 7, tree.root(), NOW)
    pack.members["tree_head.json"] = _json(head.to_json())
    for index in (1, 3, 5):
        pack.members[entry_name(index)] = pack.leaves[index]
        path = merkle.inclusion_proof(index, 7, tree)
        pack.members[proof_name(index)] = _json(
            {"leaf_index": index, "tree_size": 7, "inclusion_proof": [h.hex() for h in path]}
        )
    return pack.check()


@pytest.mark.parametrize("change", ["malformed", "other tree", "other case"])
def test_one_bad_entry_does_not_stop_the_check_of_the_others(change: str) -> None:
    report = _first_entry_fails(change)
    assert report.entries == 2
    assert report.checked[1] == "2 entries: leaf hashes and inclusion proofs hold"
    assert report.failures[-1] == f"entries/{1:012d}.json: entry index 1 of the case is missing"
    assert len(report.failures) == 2


def test_a_proof_that_does_not_name_its_entry_is_refused() -> None:
    pack = Pack()
    proof = json.loads(pack.members[proof_name(1)])
    del proof["leaf_index"]
    pack.members[proof_name(1)] = _json(proof)
    assert _failures(pack)[0] == (
        f"{proof_name(1)}: not a proof for entry index 1 in the signed tree"
    )


def test_a_proof_for_another_tree_or_entry_is_refused() -> None:
    for change in ({"tree_size": 8}, {"tree_size": 6}, {"leaf_index": 2}, {"leaf_index": None}):
        pack = Pack()
        proof = json.loads(pack.members[proof_name(3)])
        proof.update(change)
        if change.get("leaf_index", 0) is None:
            del proof["leaf_index"]
        pack.members[proof_name(3)] = _json(proof)
        assert _failures(pack)[0] == (
            f"{proof_name(3)}: not a proof for entry index 3 in the signed tree"
        ), change


def test_an_entry_of_another_case_is_refused() -> None:
    """A pack cannot pass off another case's entry (it is in the tree, but not
    this case's)."""
    pack = Pack()
    index = 0
    tree = merkle.MemoryTree(merkle.leaf_hash(b) for b in pack.leaves)
    pack.members[entry_name(index)] = pack.leaves[index]
    pack.members[proof_name(index)] = _json(
        {
            "leaf_index": index,
            "tree_size": 7,
            "inclusion_proof": [h.hex() for h in merkle.inclusion_proof(index, 7, tree)],
        }
    )
    pack.manifest["entries"].append({"leaf_index": 0, "seq": 1, "file": entry_name(0)})
    report = pack.check()
    assert report.failures == [f"{entry_name(0)}: entry index 0 belongs to another case"]
    assert report.entries == 3


def test_a_manifest_without_a_case_id_matches_no_case() -> None:
    pack = Pack()
    del pack.manifest["case_id"]
    report = pack.check()
    assert report.case_id == ""
    assert report.entries == 0
    assert f"{entry_name(1)}: entry index 1 belongs to another case" in report.failures


def test_a_manifest_without_entries_verifies_none() -> None:
    pack = Pack()
    del pack.manifest["entries"]
    report = pack.check()
    assert report.entries == 0
    assert report.failures[0] == "entries: no verified audit:evidence:exported entry in the pack"


def test_a_manifest_without_a_key_excuses_no_file() -> None:
    pack = Pack()
    del pack.manifest["key"]
    pack.members["None"] = b"planted"
    pack.members["XXXX"] = b"planted"
    assert _failures(pack) == [
        "None: not part of the pack as exported",
        "XXXX: not part of the pack as exported",
        f"keys/{pack.key.key_id}.pem: not part of the pack as exported",
    ]


def test_an_export_entry_without_indexes_or_files_binds_nothing() -> None:
    pack = Pack()
    export = json.loads(pack.leaves[5])
    export["data"] = {}
    pack.leaves[5] = _canon(export)
    report = _resigned(pack, merkle.MemoryTree(merkle.leaf_hash(b) for b in pack.leaves))
    assert report.failures == [
        "case.json: not part of the pack as exported",
        "policy.yaml: not part of the pack as exported",
        "summary.md: not part of the pack as exported",
    ]
    assert report.entries == 3


def test_a_file_the_export_did_not_write_is_refused() -> None:
    pack = Pack()
    pack.members["extra.txt"] = b"planted"
    assert _failures(pack) == ["extra.txt: not part of the pack as exported"]


def test_the_key_file_named_by_the_manifest_belongs_to_the_pack() -> None:
    pack = Pack()
    pack.manifest["key"] = "keys/other.pem"
    assert _failures(pack) == [f"keys/{pack.key.key_id}.pem: not part of the pack as exported"]


def test_a_pack_without_an_export_entry_fails() -> None:
    pack = Pack()
    pack.manifest["entries"] = [e for e in pack.manifest["entries"] if e["leaf_index"] != 5]
    del pack.members[entry_name(5)], pack.members[proof_name(5)]
    assert _failures(pack) == [
        "entries: no verified audit:evidence:exported entry in the pack",
        "case.json: not part of the pack as exported",
        "policy.yaml: not part of the pack as exported",
        "summary.md: not part of the pack as exported",
    ]


def test_a_dropped_case_entry_is_named() -> None:
    pack = Pack()
    pack.manifest["entries"] = [e for e in pack.manifest["entries"] if e["leaf_index"] != 3]
    del pack.members[entry_name(3)], pack.members[proof_name(3)]
    assert _failures(pack) == [f"entries/{3:012d}.json: entry index 3 of the case is missing"]


@pytest.mark.parametrize("name", ["case.json", "summary.md", "policy.yaml"])
def test_an_altered_or_missing_attachment_is_named(name: str) -> None:
    pack = Pack()
    pack.members[name] += b" "
    failures = _failures(pack)
    assert f"{name}: altered (its hash differs from the one in the ledger)" in failures
    gone = Pack()
    del gone.members[name]
    assert f"{name}: missing from the pack" in _failures(gone)


def test_a_policy_other_than_the_frozen_one_is_named() -> None:
    """The tier entry's policy hash binds policy.yaml even when the export
    entry's file hash was made for the swapped text."""
    pack = Pack()
    other = b"version: 2\n"
    pack.members["policy.yaml"] = other
    actual = "sha256:" + hashlib.sha256(other).hexdigest()
    failures = _failures(pack)
    assert failures[-1] == f"policy.yaml: its hash {actual} is not the case's policy {POLICY_HASH}"


def test_a_pack_without_a_policy_file_skips_the_policy_binding() -> None:
    pack = Pack()
    del pack.members["policy.yaml"]
    report = pack.check()
    assert report.failures == ["policy.yaml: missing from the pack"]
    assert not any("froze" in line for line in report.checked)


def test_trusted_keys_read_one_file_or_a_folder_by_computed_key_id(tmp_path: Path) -> None:
    first, second, third = _key(), _key(), _key()
    single = tmp_path / "one.pem"
    single.write_text(public_pem(first.public))
    assert list(trusted_keys(single)) == [first.key_id]
    folder = tmp_path / "keys"
    folder.mkdir()
    (folder / "misnamed.pem").write_text(public_pem(second.public))
    (folder / "x.pub").write_text(public_pem(third.public))
    (folder / "notes.txt").write_text("not a key")
    keys = trusted_keys(folder)
    assert set(keys) == {second.key_id, third.key_id}
    assert key_id_of(keys[third.key_id]) == third.key_id


def test_trusted_keys_refuse_a_file_that_is_not_a_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("nothing")
    with pytest.raises(KeyRingError) as caught:
        trusted_keys(bad)
    assert caught.value.message.startswith(f"{bad}: not an Ed25519 public key")
    with pytest.raises(KeyRingError) as unreadable:
        trusted_keys(tmp_path / "absent.pem")
    assert unreadable.value.message == (
        f"{tmp_path / 'absent.pem'}: cannot read it (No such file or directory)"
    )


def test_a_pack_is_a_deflated_zip_with_fixed_times() -> None:
    data = Pack().zip()
    with zipfile.ZipFile(__import__("io").BytesIO(data)) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(2000, 1, 1, 0, 0, 0)}


def test_an_entry_listed_below_index_zero_is_not_in_the_tree() -> None:
    """A proof naming no leaf index counts as index -1: an entry listed at -1
    passes that comparison and is then refused by the inclusion check."""
    pack = Pack()
    name, proof_file = "entries/x.json", proof_name(-1)
    pack.members[name] = pack.leaves[3]
    pack.members[proof_file] = _json({"tree_size": 7, "inclusion_proof": []})
    pack.manifest["entries"].append({"leaf_index": -1, "seq": 0, "file": name})
    assert _failures(pack) == [
        f"{name}: entry index -1 is not in the signed tree (the entry or {proof_file} was altered)"
    ]


@pytest.mark.parametrize("text", [b"[1, 2]", b'"head"', b"7", b"null"])
def test_a_head_that_is_not_a_json_object_is_named_not_a_crash(text: bytes) -> None:
    pack = Pack()
    pack.members["tree_head.json"] = text
    failures = _failures(pack)
    assert len(failures) == 1
    assert failures[0].startswith("tree_head.json: ")


def test_a_null_proof_is_named() -> None:
    pack = Pack()
    pack.members[proof_name(3)] = b"null"
    assert _failures(pack) == [
        f"{proof_name(3)}: JSON null, not an object",
        f"entries/{3:012d}.json: entry index 3 of the case is missing",
    ]
