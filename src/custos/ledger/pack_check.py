"""Offline verification of an evidence pack (:mod:`custos.ledger.evidence`) with
a trusted public key and no database. Every failure names the file (and entry
index) that does not hold. Imports nothing that touches a store."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custos.ledger import merkle
from custos.ledger.signing import (
    KeyRingError,
    TreeHead,
    key_id_of,
    load_public_key,
    verify_head,
)

FORMAT = "custos-evidence/1"
EXPORTED = "audit:evidence:exported"
TIER_SELECTED = "policy:case:tier_selected"


@dataclass
class PackReport:
    """What held and what failed; ``ok`` when nothing failed."""

    case_id: str = ""
    entries: int = 0
    tree_size: int = 0
    #: The pack's tree head once its signature verified with the given key.
    head: TreeHead | None = None
    checked: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and bool(self.checked)


def verify_pack(pack: Path | bytes, public: Ed25519PublicKey) -> PackReport:
    """Verify ``pack`` (a path or the zip bytes) with the trusted ``public`` key."""
    report = PackReport()
    try:
        source = pack if isinstance(pack, Path) else _bytes_io(pack)
        with zipfile.ZipFile(source) as archive:
            files = {name: archive.read(name) for name in archive.namelist()}
    except (OSError, zipfile.BadZipFile) as exc:
        report.failures.append(f"pack: not a readable zip ({exc})")
        return report
    _Checker(files, public, report).run()
    return report


def head_key_id(pack: Path | bytes) -> str | None:
    """The key id the pack's tree head names (not trusted: it only picks which
    trusted key to check with), or None when the pack does not say. ``pack``: a
    path or the zip bytes."""
    try:
        with zipfile.ZipFile(pack if isinstance(pack, Path) else _bytes_io(pack)) as archive:
            manifest = json.loads(archive.read("manifest.json"))
            head = json.loads(archive.read(str(manifest.get("tree_head", "tree_head.json"))))
        return str(head["key_id"])
    except (OSError, zipfile.BadZipFile, KeyError, TypeError, ValueError, AttributeError):
        return None


def trusted_keys(source: Path) -> dict[str, Ed25519PublicKey]:
    """Public keys by key id from ``source``: one PEM file, or a folder of them
    (``*.pem`` as ``custos audit keys --export`` writes, ``*.pub`` as in the
    deployment's ledger key folder). Key ids are computed from the keys, never
    read from file names. Raises KeyRingError for a file that is not a key."""
    files = sorted([*source.glob("*.pem"), *source.glob("*.pub")]) if source.is_dir() else [source]
    keys: dict[str, Ed25519PublicKey] = {}
    for path in files:
        try:
            public = load_public_key(path.read_bytes())
        except KeyRingError as exc:
            raise KeyRingError(f"{path}: {exc.message}") from None
        except OSError as exc:
            raise KeyRingError(f"{path}: cannot read it ({exc.strerror})") from None
        keys[key_id_of(public)] = public
    return keys


def _bytes_io(data: bytes) -> Any:
    import io

    return io.BytesIO(data)


class _Checker:
    def __init__(self, files: dict[str, bytes], public: Ed25519PublicKey, report: PackReport):
        self.files, self.public, self.report = files, public, report
        self.used: set[str] = set()

    def fail(self, message: str) -> None:
        self.report.failures.append(message)

    def json_file(self, name: str) -> Any:
        self.used.add(name)
        if name not in self.files:
            self.fail(f"{name}: missing from the pack")
            return None
        try:
            data = json.loads(self.files[name])
        except ValueError:
            self.fail(f"{name}: not JSON")
            return None
        if data is None:  # every file the export writes holds an object
            self.fail(f"{name}: JSON null, not an object")
        return data

    def run(self) -> None:
        manifest = self.json_file("manifest.json")
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            self.fail(f"manifest.json: not a {FORMAT} manifest")
            return
        self.report.case_id = str(manifest.get("case_id", ""))
        head = self.head(str(manifest.get("tree_head", "tree_head.json")))
        if head is None:
            return
        self.used.add(str(manifest.get("key", "")))
        entries = self.entries(manifest.get("entries", []), head)
        self.bindings(manifest, entries)
        for name in sorted(set(self.files) - self.used):
            self.fail(f"{name}: not part of the pack as exported")

    def head(self, name: str) -> TreeHead | None:
        data = self.json_file(name)
        if data is None:
            return None
        try:
            head = TreeHead.from_json(data)
        except KeyRingError as exc:
            self.fail(f"{name}: {exc.message}")
            return None
        given = key_id_of(self.public)
        if head.key_id != given:
            self.fail(f"{name}: signed by key {head.key_id}, not by the given key {given}")
            return None
        if not verify_head(head, self.public):
            self.fail(f"{name}: the signature does not verify (the head was altered)")
            return None
        self.report.tree_size = head.tree_size
        self.report.head = head
        self.report.checked.append(f"{name}: signed by key {head.key_id}")
        return head

    def entries(self, listed: Sequence[Any], head: TreeHead) -> dict[int, dict[str, Any]]:
        """Each listed entry: leaf hash, inclusion proof; returns the parsed
        entries that hold, by leaf index."""
        good: dict[int, dict[str, Any]] = {}
        root = bytes.fromhex(head.root_hash)
        for item in listed:
            index, name = int(item["leaf_index"]), str(item["file"])
            self.used.add(name)
            data = self.files.get(name)
            if data is None:
                self.fail(f"{name}: entry index {index} is missing from the pack")
                continue
            proof_file = f"proofs/{index:012d}.json"
            proof = self.json_file(proof_file)
            if proof is None:
                continue
            try:
                path = [bytes.fromhex(h) for h in proof["inclusion_proof"]]
                size = int(proof["tree_size"])
            except (KeyError, TypeError, ValueError):
                self.fail(f"{proof_file}: malformed inclusion proof")
                continue
            if size != head.tree_size or int(proof.get("leaf_index", -1)) != index:
                self.fail(f"{proof_file}: not a proof for entry index {index} in the signed tree")
                continue
            if not merkle.verify_inclusion(merkle.leaf_hash(data), index, size, path, root):
                self.fail(
                    f"{name}: entry index {index} is not in the signed tree "
                    f"(the entry or {proof_file} was altered)"
                )
                continue
            entry = json.loads(data)
            if entry.get("case") != self.report.case_id:
                self.fail(f"{name}: entry index {index} belongs to another case")
                continue
            good[index] = entry
            self.report.entries += 1
        if good:
            self.report.checked.append(
                f"{len(good)} entries: leaf hashes and inclusion proofs hold"
            )
        return good

    def bindings(self, manifest: dict[str, Any], entries: dict[int, dict[str, Any]]) -> None:
        """The export entry names the case's entries and the attachments' hashes;
        the tier entry names the policy hash."""
        exports = [entries[i] for i in sorted(entries) if entries[i].get("type") == EXPORTED]
        if not exports:
            self.fail("entries: no verified audit:evidence:exported entry in the pack")
            return
        export = exports[-1]["data"]
        missing = [i for i in export.get("leaf_indexes", []) if i not in entries]
        for index in missing:
            self.fail(f"entries/{index:012d}.json: entry index {index} of the case is missing")
        for name, expected in sorted(export.get("files", {}).items()):
            self.used.add(name)
            data = self.files.get(name)
            if data is None:
                self.fail(f"{name}: missing from the pack")
            elif hashlib.sha256(data).hexdigest() != expected:
                self.fail(f"{name}: altered (its hash differs from the one in the ledger)")
            else:
                self.report.checked.append(f"{name}: matches the ledger")
        tiers = [e for e in entries.values() if e.get("type") == TIER_SELECTED]
        frozen = tiers[0]["data"].get("policy_hash") if tiers else None
        if "policy.yaml" in self.files and frozen is not None:
            actual = "sha256:" + hashlib.sha256(self.files["policy.yaml"]).hexdigest()
            if actual != frozen:
                self.fail(f"policy.yaml: its hash {actual} is not the case's policy {frozen}")
            else:
                self.report.checked.append(f"policy.yaml: is the policy the case froze ({frozen})")
