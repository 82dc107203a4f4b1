"""``custos`` commands answer what goes wrong outside the domain as
``error [id]: message`` and exit 1: a file that cannot be read or written is
``file_error`` (with its path, shortened), a server that does not answer is
``server_unreachable``; anything else still raises (a bug shows as one)."""

from __future__ import annotations

import socket

import pytest
import typer

from custos.cli.context import failures


def _refusal(exc: BaseException, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(typer.Exit) as ended, failures():
        raise exc
    assert ended.value.exit_code == 1
    return capsys.readouterr().err


def test_a_file_that_cannot_be_written_is_a_file_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    printed = _refusal(NotADirectoryError(20, "Not a directory", "/x/plain.txt/pack.zip"), capsys)
    assert "error [file_error]: Not a directory: /x/plain.txt/pack.zip" in printed


def test_a_path_too_long_is_shortened_to_its_end(capsys: pytest.CaptureFixture[str]) -> None:
    printed = _refusal(OSError(36, "File name too long", "/tmp/" + "x" * 3000), capsys)
    assert "error [file_error]: File name too long: ..." in printed
    assert len(printed) < 300


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError("timed out"),
        socket.gaierror(-2, "Name or service not known"),
    ],
)
def test_a_server_that_does_not_answer_is_unreachable_not_a_file_error(
    exc: OSError, capsys: pytest.CaptureFixture[str]
) -> None:
    printed = _refusal(exc, capsys)
    assert "error [server_unreachable]" in printed


def test_any_other_error_still_raises() -> None:
    with pytest.raises(KeyError), failures():
        raise KeyError("a bug")
