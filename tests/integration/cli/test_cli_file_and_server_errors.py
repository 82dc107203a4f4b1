"""Commands that write a file or call a server answer a path they cannot write
and a server they cannot use with ``error [id]: message`` and exit 1, never a
traceback; a file is written whole or not at all; and an evidence export whose
file cannot be written is refused before the export is recorded, so the
ledger never says a pack went out that nobody has (R-38)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cli_runner import run_cli
from recoveries import helpdesk_recovery
from sqlalchemy import func, select
from typer.testing import Result

from conftest import World
from custos.domain.events import EventType
from custos.ledger.heads import key_ring
from custos.store.tables import ledger


def _refused(result: Result, error_id: str) -> str:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert f"error [{error_id}]" in result.stderr, result.stderr
    assert "Traceback" not in result.output
    return result.stderr


def _exports(world: World) -> int:
    with world.svc.engine.connect() as conn:
        found = conn.execute(
            select(func.count()).where(ledger.c.type == EventType.EVIDENCE_EXPORTED.value)
        ).scalar_one()
    return int(found)


@pytest.fixture
def done(sqlite_world: World) -> tuple[World, str]:
    case_id = helpdesk_recovery(sqlite_world, "carl")
    key_ring(sqlite_world.svc).ensure(sqlite_world.clock.now())
    return sqlite_world, case_id


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    """A regular file: nothing can be written under it."""
    path = tmp_path / "plain.txt"
    path.write_text("not a folder\n")
    return path


@pytest.mark.parametrize(
    ("below_a_file", "error_id", "said"),
    [(True, "file_error", "Not a directory"), (False, "invalid_input", "is a folder")],
    ids=["unwritable", "a-folder"],
)
def test_an_evidence_pack_that_cannot_be_written_is_not_recorded_as_exported(
    done: tuple[World, str], a_file: Path, below_a_file: bool, error_id: str, said: str
) -> None:
    """Before: the export was recorded and signed, then writing the file raised
    NotADirectoryError (below a plain file) or IsADirectoryError (a folder
    given as the file) as a traceback."""
    world, case_id = done
    output = a_file / "pack.zip" if below_a_file else a_file.parent
    stderr = _refused(run_cli(world, "evidence", "export", case_id, "-o", str(output)), error_id)
    assert said in stderr
    assert _exports(world) == 0


def test_an_evidence_pack_is_written_whole_and_leaves_no_temporary_file(
    done: tuple[World, str], tmp_path: Path
) -> None:
    world, case_id = done
    target = tmp_path / "out" / "pack.zip"
    target.parent.mkdir()
    target.write_bytes(b"an older pack")
    result = run_cli(world, "evidence", "export", case_id, "-o", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_bytes()[:2] == b"PK"  # a zip, replacing the older file
    assert [p.name for p in target.parent.iterdir()] == ["pack.zip"]
    assert _exports(world) == 1


def test_a_failed_export_leaves_the_older_file_and_no_temporary_one(
    done: tuple[World, str], tmp_path: Path
) -> None:
    """An unknown case is refused after the file was proven writable: the older
    pack stays as it was and the temporary file is gone."""
    world, _ = done
    target = tmp_path / "out" / "pack.zip"
    target.parent.mkdir()
    target.write_bytes(b"an older pack")
    _refused(run_cli(world, "evidence", "export", "case-unknown", "-o", str(target)), "not_found")
    assert target.read_bytes() == b"an older pack"
    assert [p.name for p in target.parent.iterdir()] == ["pack.zip"]


def test_a_backup_folder_name_too_long_for_the_file_system_is_a_clear_error(
    sqlite_world: World, tmp_path: Path
) -> None:
    """Before: OSError 'File name too long' as a traceback."""
    stderr = _refused(run_cli(sqlite_world, "backup", str(tmp_path / ("x" * 3000))), "file_error")
    assert "File name too long" in stderr
    assert len(stderr) < 600  # the 3,000-character name is shortened


def test_reports_and_exported_keys_under_a_plain_file_are_clear_errors(
    done: tuple[World, str], a_file: Path
) -> None:
    world, _ = done
    below = str(a_file / "x")
    for args in (
        ("report", "compliance", "-o", below + ".html"),
        ("report", "compliance", "-o", below + ".pdf"),
        ("audit", "keys", "--export", below),
    ):
        assert "Not a directory" in _refused(run_cli(world, *args), "file_error"), args
    assert a_file.read_text() == "not a folder\n"


class _NotCustos(BaseHTTPRequestHandler):
    """A web server that is not a Custos API: a page for every address."""

    def do_GET(self) -> None:
        body = b"<html>a wiki</html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def not_custos() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotCustos)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_audit_proof_against_a_server_it_cannot_use_says_why(
    sqlite_world: World, not_custos: str
) -> None:
    """Before: UnsupportedProtocol, ConnectError and a JSON decoding error, each
    a traceback."""
    world = sqlite_world
    cases = {
        "not-a-url": "invalid_input",
        f"http://127.0.0.1:{_closed_port()}": "server_unreachable",
        not_custos: "proof_unavailable",
    }
    for server, error_id in cases.items():
        _refused(run_cli(world, "audit", "proof", "1", "--server", server), error_id)


def test_audit_proof_never_sends_a_token_in_clear_to_another_machine(
    sqlite_world: World, not_custos: str
) -> None:
    """The operator's API token goes over https, or plain http to this machine
    only (as the directory connectors' passwords do); the refusal comes before
    any connection."""
    stderr = _refused(
        run_cli(
            sqlite_world, "audit", "proof", "1", "--server", "http://192.0.2.1", "--token", "t0k"
        ),
        "insecure_transport",
    )
    assert "https://" in stderr
    # To this machine the token may go over http: the answer is the server's.
    _refused(
        run_cli(sqlite_world, "audit", "proof", "1", "--server", not_custos, "--token", "t0k"),
        "proof_unavailable",
    )


def test_an_evidence_pack_is_readable_by_its_owner_alone(
    done: tuple[World, str], tmp_path: Path
) -> None:
    """It names a subject and their recovery: mode 0600, whatever the umask."""
    world, case_id = done
    target = tmp_path / "out.zip"
    assert run_cli(world, "evidence", "export", case_id, "-o", str(target)).exit_code == 0
    assert target.stat().st_mode & 0o777 == 0o600
