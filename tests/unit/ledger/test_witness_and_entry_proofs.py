"""Witnesses outside the database (``custos.ledger.witness``: an fsynced JSON
lines file and an HTTP endpoint, here a real one on loopback) and the local
check of an entry with its inclusion proof (``proofs.check_entry_proof``)
(R-38: history cannot be rewritten in the database alone; a reader can check
an entry without trusting the server)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from structlog.testing import capture_logs

from custos.config import load_settings
from custos.ledger import merkle
from custos.ledger.proofs import check_entry_proof
from custos.ledger.signing import LedgerKey, TreeHead, key_id_of, sign_head
from custos.ledger.witness import append_to_file, publish, read_file

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _key() -> LedgerKey:
    private = Ed25519PrivateKey.generate()
    return LedgerKey(key_id_of(private.public_key()), "t", private.public_key(), private)


KEY = _key()


def _head(size: int = 3) -> TreeHead:
    return sign_head(KEY, size, bytes([size]) * 32, NOW)


def test_a_witness_file_gets_one_sorted_json_line_per_head(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "witness.jsonl"
    first, second = _head(3), _head(4)
    append_to_file(path, first)
    append_to_file(path, second)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert lines == [
        json.dumps(h.to_json(), sort_keys=True, separators=(",", ":")) + "\n"
        for h in (first, second)
    ]
    assert path.stat().st_mode & 0o777 == 0o644
    assert read_file(path) == ([first, second], [])


def test_reading_a_witness_file_names_each_unreadable_line(tmp_path: Path) -> None:
    path = tmp_path / "witness.jsonl"
    good = _head(5)
    partial = {k: v for k, v in good.to_json().items() if k != "signature"}
    path.write_text(
        "\n".join(
            [
                json.dumps(good.to_json()),
                "",
                "   ",
                "{not json",
                json.dumps(partial),
                "[1, 2]",
                json.dumps(good.to_json()),
            ]
        ),
        encoding="utf-8",
    )
    heads, problems = read_file(path)
    assert heads == [good, good]
    assert problems == [
        f"{path}:4: not a tree head",
        f"{path}:5: not a tree head",
        f"{path}:6: not a tree head",
    ]


def test_a_damaged_byte_in_a_witness_file_costs_only_its_line(tmp_path: Path) -> None:
    """A line that is not UTF-8 (a damaged disk block, a stray edit) is named
    like any other unreadable line; the heads around it are still read (the
    whole file used to fail to decode, and ``audit verify`` with it)."""
    path = tmp_path / "witness.jsonl"
    first, second = _head(3), _head(4)
    lines = [json.dumps(h.to_json()).encode() for h in (first, second)]
    path.write_bytes(lines[0] + b"\n" + b'{"tree_size": "\xff\xfe"}\r\n' + lines[1] + b"\n")
    assert read_file(path) == ([first, second], [f"{path}:2: not a tree head"])
    spaced = tmp_path / "spaced.jsonl"
    spaced.write_bytes(b"\n \t\n" + lines[0] + b"\r\n\r\n" + lines[1])
    assert read_file(spaced) == ([first, second], [])


def test_a_missing_witness_file_holds_no_heads(tmp_path: Path) -> None:
    assert read_file(tmp_path / "absent.jsonl") == ([], [])
    assert not (tmp_path / "absent.jsonl").exists()


class _Receiver(BaseHTTPRequestHandler):
    status = 204
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        body = json.loads(self.rfile.read(length))
        type(self).received.append({"body": body, "type": self.headers["Content-Type"]})
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"received": [], "status": 204})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/heads", handler
    finally:
        server.shutdown()
        server.server_close()


def test_publish_writes_the_file_and_posts_the_head(
    tmp_path: Path, receiver: tuple[str, type[_Receiver]]
) -> None:
    url, handler = receiver
    path = tmp_path / "witness.jsonl"
    settings = load_settings(
        None, data_dir=tmp_path, ledger_witness_file=path, ledger_witness_url=url
    )
    head = _head(6)
    assert publish(settings, head) == []
    assert read_file(path) == ([head], [])
    assert handler.received == [{"body": head.to_json(), "type": "application/json"}]


def test_publish_waits_at_most_ten_seconds_for_the_witness_url(
    tmp_path: Path, receiver: tuple[str, type[_Receiver]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A witness that never answers must not hold signing up for ever, nor
    for httpx's default 5 s: the POST (to the real receiver) is bounded at
    10 s. Waiting out the bound would cost each test run 10 s, so the call's
    arguments are recorded on the way through."""
    url, handler = receiver
    calls: list[dict[str, object]] = []
    real_post = httpx.post

    def recording_post(*args: Any, **kwargs: Any) -> httpx.Response:
        calls.append(kwargs)
        return real_post(*args, **kwargs)

    monkeypatch.setattr(httpx, "post", recording_post)
    head = _head(7)
    settings = load_settings(None, data_dir=tmp_path, ledger_witness_url=url)
    assert publish(settings, head) == []
    assert calls == [{"json": head.to_json(), "timeout": 10}]
    assert handler.received == [{"body": head.to_json(), "type": "application/json"}]


def test_publish_names_each_witness_that_failed(
    tmp_path: Path, receiver: tuple[str, type[_Receiver]]
) -> None:
    url, handler = receiver
    handler.status = 500
    blocker = tmp_path / "file"
    blocker.write_text("")
    settings = load_settings(
        None,
        data_dir=tmp_path,
        ledger_witness_file=blocker / "witness.jsonl",
        ledger_witness_url=url,
    )
    with capture_logs() as logs:
        failures = publish(settings, _head())
    assert failures == [
        f"witness file {blocker / 'witness.jsonl'}: File exists",
        "witness URL answered 500",
    ]
    assert len(handler.received) == 1
    # operators are alerted on this event name (docs/ledger.md, the console's ledger page)
    assert logs == [
        {"event": "witness_publish_failed", "problem": failure, "log_level": "warning"}
        for failure in failures
    ]


def test_publish_names_an_unreachable_witness_url(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = load_settings(
        None, data_dir=tmp_path, ledger_witness_url=f"http://127.0.0.1:{port}/heads"
    )
    assert publish(settings, _head()) == ["witness URL: ConnectError"]


def test_publish_without_witnesses_does_nothing(tmp_path: Path) -> None:
    assert publish(load_settings(None, data_dir=tmp_path), _head()) == []
    assert list(tmp_path.iterdir()) == []


# check_entry_proof: an answer as entry_with_proof gives it


ENTRIES = [b'{"n":%d}' % n for n in range(6)]
TREE = merkle.MemoryTree(merkle.leaf_hash(e) for e in ENTRIES)


def _answer(index: int = 4, size: int = 6) -> dict[str, Any]:
    head = sign_head(KEY, size, TREE.root(size), NOW)
    return {
        "seq": index + 1,
        "leaf_index": index,
        "canonical": ENTRIES[index].decode(),
        "leaf_hash": merkle.leaf_hash(ENTRIES[index]).hex(),
        "inclusion_proof": [h.hex() for h in merkle.inclusion_proof(index, size, TREE)],
        "tree_head": head.to_json(),
    }


KEYS = {KEY.key_id: KEY.public}


def test_a_sound_entry_proof_has_no_failure() -> None:
    for index in range(6):
        assert check_entry_proof(_answer(index), KEYS) == []
    assert check_entry_proof(_answer(0, 1), KEYS) == []


def test_an_entry_whose_bytes_changed_fails_twice() -> None:
    answer = _answer()
    answer["canonical"] = '{"n":40}'
    assert check_entry_proof(answer, KEYS) == [
        "the entry's bytes do not hash to its leaf hash",
        "the inclusion proof does not lead to the root of size 6",
    ]


def test_an_entry_that_is_not_json_is_named() -> None:
    answer = _answer()
    text = "not json"
    answer["canonical"] = text
    answer["leaf_hash"] = merkle.leaf_hash(text.encode("utf-8")).hex()
    assert check_entry_proof(answer, KEYS) == [
        "the entry is not JSON",
        "the inclusion proof does not lead to the root of size 6",
    ]


def test_an_entry_is_hashed_as_utf8() -> None:
    entries = [*ENTRIES[:2], '{"name":"Zoë"}'.encode()]
    tree = merkle.MemoryTree(merkle.leaf_hash(e) for e in entries)
    head = sign_head(KEY, 3, tree.root(), NOW)
    answer = {
        "leaf_index": 2,
        "canonical": entries[2].decode("utf-8"),
        "leaf_hash": merkle.leaf_hash(entries[2]).hex(),
        "inclusion_proof": [h.hex() for h in merkle.inclusion_proof(2, 3, tree)],
        "tree_head": head.to_json(),
    }
    assert check_entry_proof(answer, KEYS) == []


def test_a_proof_for_another_index_or_path_fails() -> None:
    answer = _answer()
    answer["leaf_index"] = 5
    assert check_entry_proof(answer, KEYS) == [
        "the inclusion proof does not lead to the root of size 6"
    ]
    answer = _answer()
    answer["inclusion_proof"] = list(reversed(answer["inclusion_proof"]))
    assert check_entry_proof(answer, KEYS) == [
        "the inclusion proof does not lead to the root of size 6"
    ]


def test_a_head_by_an_unknown_key_or_altered_fails() -> None:
    other = _key()
    answer = _answer()
    assert check_entry_proof(answer, {other.key_id: other.public}) == [
        f"no public key {KEY.key_id} to check the head's signature"
    ]
    assert check_entry_proof(answer, {}) == [
        f"no public key {KEY.key_id} to check the head's signature"
    ]
    forged = _answer()
    forged["tree_head"]["signed_at"] = "2026-03-01T12:00:01.000000Z"
    assert check_entry_proof(forged, KEYS) == ["the tree head's signature does not verify"]
