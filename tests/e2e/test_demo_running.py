"""A running ``custos demo`` (a real process on a free port) and what a user does
beside it in a second shell: follows the printed hints, plays ``custos demo
--tour`` against it, starts a second demo by mistake. Whatever they do, the
running demo's operators keep their tokens."""

from __future__ import annotations

import re
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from demo_process import DemoProcess, custos, free_port, start_demo

CODE = re.compile(r"\bis (\d{8})\.")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoProcess]:
    cwd = tmp_path_factory.mktemp("running-demo")
    running = start_demo(cwd, cwd / "data", free_port())
    yield running
    running.stop()


def accepted(demo: DemoProcess, tokens: dict[str, str]) -> dict[str, int]:
    """Each operator's answer to ``GET /api/v1/me`` with its printed token."""
    with httpx.Client(base_url=demo.base, timeout=30) as http:
        return {
            name: http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code
            for name, token in tokens.items()
        }


def hinted_output(demo: DemoProcess, marker: str, expect: re.Pattern[str]) -> str:
    """Run the hint's command as printed until its output shows ``expect`` (the
    worker sends notices after the commit)."""
    args = demo.hinted(marker)
    for _ in range(100):
        result = custos(demo.cwd, *args)
        assert result.returncode == 0, result.stderr
        if expect.search(result.stdout):
            return result.stdout
        time.sleep(0.2)
    raise AssertionError(f"{args} never showed {expect.pattern}:\n{result.stdout}")


def test_demo_hints_outbox_commands_show_the_code_and_the_link_they_promise(
    demo: DemoProcess,
) -> None:
    code_hint = demo.hinted("--kind email_code")
    link_hint = demo.hinted("--kind reset_link")
    for args in (code_hint, link_hint):
        # As printed, they act on this demo's data folder from any shell.
        assert args[:2] == ["--data-dir", str(demo.data)], args
        assert "outbox" in args and "bob@example.org" in args, args
    with httpx.Client(base_url=demo.base, timeout=30) as http:
        flow = http.post("/api/v1/self-service/recoveries", json={"identifier": "bob"}).json()[
            "flow"
        ]
        http.post(f"/api/v1/self-service/recoveries/{flow}/email-code").raise_for_status()
        code = CODE.search(hinted_output(demo, "--kind email_code", CODE))
        assert code is not None
        proof = http.post(
            f"/api/v1/self-service/recoveries/{flow}/proofs",
            json={"method": "email_code", "code": code.group(1)},
        )
        assert proof.status_code == 200 and proof.json()["status"] == "link_sent", proof.text
    link = re.compile(rf"{re.escape(demo.base)}/reset#token=(crt_[A-Za-z0-9_-]{{43}})")
    shown = hinted_output(demo, "--kind reset_link", link)
    assert "[reset_link]" in shown and "/repudiate#" not in shown, shown


def test_tour_against_running_demo_completes_and_leaves_its_tokens_valid(
    demo: DemoProcess,
) -> None:
    tokens = demo.tokens()
    assert len(tokens) == 8, demo.output
    assert set(accepted(demo, tokens).values()) == {200}
    port = str(demo.port)
    tour = custos(demo.cwd, "--data-dir", str(demo.data), "demo", "--tour", "--port", port)
    assert tour.returncode == 0, tour.stdout[-3000:] + tour.stderr[-3000:]
    assert "the tour plays against it" in tour.stdout
    assert "tour complete" in tour.stdout and "address already in use" not in tour.stderr
    assert tour.stdout.count("completed") >= 2
    assert accepted(demo, tokens) == dict.fromkeys(tokens, 200)


def test_tour_with_another_port_plays_against_the_running_demo_of_its_data_folder(
    demo: DemoProcess,
) -> None:
    """A second demo on the same data would replace the running one's tokens:
    the tour goes to the demo that runs, wherever it listens."""
    tokens = demo.tokens()
    other = free_port()
    tour = custos(demo.cwd, "--data-dir", str(demo.data), "demo", "--tour", "--port", str(other))
    assert tour.returncode == 0, tour.stdout[-3000:] + tour.stderr[-3000:]
    assert f"runs at {demo.base}" in tour.stdout
    assert accepted(demo, tokens) == dict.fromkeys(tokens, 200)


def test_second_demo_on_the_same_data_refuses_and_leaves_tokens_valid(demo: DemoProcess) -> None:
    tokens = demo.tokens()
    second = custos(demo.cwd, "--data-dir", str(demo.data), "demo", "--port", str(free_port()))
    assert second.returncode == 1
    assert "[demo_running]" in second.stderr and "demo --tour" in second.stderr, second.stderr
    assert accepted(demo, tokens) == dict.fromkeys(tokens, 200)


def test_demo_of_another_data_folder_on_a_taken_port_refuses_before_touching_anything(
    demo: DemoProcess,
) -> None:
    tokens = demo.tokens()
    other = demo.cwd / "other-data"
    for args in (["demo", "--tour"], ["demo"]):
        result = custos(demo.cwd, "--data-dir", str(other), *args, "--port", str(demo.port))
        assert result.returncode == 1
        assert "[address_in_use]" in result.stderr, result.stderr
    assert not (other / "custos.db").exists()
    assert accepted(demo, tokens) == dict.fromkeys(tokens, 200)


def test_demo_records_itself_for_the_tour_in_a_private_file(demo: DemoProcess) -> None:
    record = demo.data / "demo-run.json"
    assert record.is_file()
    assert stat.S_IMODE(record.stat().st_mode) == 0o600


def test_demo_on_a_port_taken_by_another_program_refuses_before_rotating_tokens(
    tmp_path: Path,
) -> None:
    """Nothing answers HTTP there, but the address is taken: the demo says so
    and exits before seeding or rotating anything."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = custos(tmp_path, "--data-dir", str(tmp_path / "data"), "demo", "--port", str(port))
    assert result.returncode == 1
    assert "[address_in_use]" in result.stderr, result.stderr
    assert not (tmp_path / "data" / "custos.db").exists()


def test_demo_prints_the_console_and_a_one_time_sign_in_link_per_operator(
    demo: DemoProcess,
) -> None:
    """A newcomer lands in the console with one click (docs/console.md#the-demo)."""
    assert f"Console: {demo.base}/" in demo.output
    links = demo.console_links()
    assert len(links) == 8, demo.output
    link = links["auditor.barbara"]
    assert link.startswith(f"{demo.base}/console/sign-in/link#token=col_")
    with httpx.Client(base_url=demo.base, timeout=30) as browser:
        page = browser.get("/console/sign-in/link")
        assert page.status_code == 200
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
        assert csrf is not None
        form = {"csrf": csrf.group(1), "token": link.split("#token=")[1]}
        signed = browser.post("/console/sign-in/link", data=form)
        assert signed.status_code == 303 and signed.headers["location"] == "/"
        assert "Signed in as auditor.barbara" in browser.get("/").text
        again = browser.post("/console/sign-in/link", data=form)
        assert again.status_code == 400, "a link works once"
