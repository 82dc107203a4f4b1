"""The HTTP face of ``bench/flows.py``: complete self-service recoveries driven
through the API by concurrent callers, against the built-in directory's raw
password write rate at the same concurrency, in the same run.

The API (``custos serve``'s app under uvicorn) and the propagation worker
(``custos worker``'s loop) run as two processes of their own, as deployed,
both on the SQLite file the parent prepared. The worker's mail goes to
:class:`AddressInbox`, one file per address and kind, so a caller reads its own
code and link without listing a mailbox. Each caller, from a source address of
its own per subject (``X-Forwarded-For`` from a trusted 127.0.0.1, as behind a
proxy), does: start, ask for the email code, wait for the mail, prove with the
code, wait for the reset link, set the new password, then poll the progress
endpoint until the case is finished.

The equal-time floor (R-19, ``enumeration_floor_ms``) holds every
self-service answer back; the flows are run once with the configured floor and
once with it at 0, and both are reported apart.

    python bench/flows_http.py api|worker FOLDER FLOOR_MS PORT   # the children
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx

from custos.notify.base import Message

CODE = re.compile(r"is (\d{8})\.")
TOKEN = re.compile(r"#token=(\S+)")
API = "/api/v1/self-service"
#: How often a caller looks for its mail and polls its case's progress (the portal
#: polls every 2 s: finer here, so that completion is not rounded up to 2 s).
MAIL_POLL_S = 0.005
PROGRESS_POLL_S = 0.25
TIMEOUT_S = 120.0
#: How long the API may take to start (imports are slow on a loaded machine).
STARTUP_S = 300.0
ROLES = ("api", "worker")


class AddressInbox:
    """The worker's notifier here: the last message per address and kind, as
    a mode-0600 file ``<address>.<kind>`` written atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    def path(self, address: str, kind: str) -> Path:
        return self.folder / f"{address}.{kind}"

    def send(self, message: Message) -> None:
        final = self.path(message.to, message.kind)
        tmp = final.with_name(f".{final.name}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(message.body)
        tmp.replace(final)


def load() -> str:
    """The first three fields of /proc/loadavg, printed beside every figure."""
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())


def source_of(subject_id: str) -> str:
    n = int(subject_id[-5:])
    return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


def _settings(folder: Path, floor_ms: int, port: int) -> Any:
    from custos.config import load_settings

    return load_settings(
        None,
        data_dir=folder,
        enumeration_floor_ms=floor_ms,
        trusted_proxies=["127.0.0.1/32"],
        host="127.0.0.1",
        port=port,
    )


def child(role: str, folder: Path, floor_ms: int, port: int) -> None:
    """Run the API or the worker until SIGTERM (the sealing key comes in the
    environment, never on the command line)."""
    from custos import logs
    from custos.bootstrap import bootstrap

    logs.configure("error")
    settings = _settings(folder, floor_ms, port)
    if role == "api":
        import uvicorn

        from custos.api.app import create_app
        from custos.api.serving import server_config

        svc = bootstrap(settings, migrate=False)
        uvicorn.Server(server_config(create_app(svc), host="127.0.0.1", port=port)).run()
        return
    from custos.propagation.worker import Worker

    svc = bootstrap(settings, migrate=False, notifier=AddressInbox(folder / "inbox"))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    Worker(svc, owner="bench-http").run_forever(stop)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def served(folder: Path, floor_ms: int, sealing_key: str) -> Iterator[str]:
    """The API and the worker running on ``folder``; yields the base URL."""
    port = free_port()
    env = {**os.environ, "CUSTOS_SEALING_KEY": sealing_key}
    args = [str(folder), str(floor_ms), str(port)]
    me = str(Path(__file__).resolve())
    procs = [subprocess.Popen([sys.executable, me, role, *args], env=env) for role in ROLES]
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=5)
                break
            except httpx.TransportError:
                if any(p.poll() is not None for p in procs):
                    ended = {role: p.returncode for role, p in zip(ROLES, procs, strict=True)}
                    raise RuntimeError(f"a child ended before the API answered: {ended}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the API did not answer in {STARTUP_S:.0f}s") from None
                time.sleep(0.2)
        yield base
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@dataclass
class Run:
    """One phase's outcome: whole-flow latencies, per-step latencies, wall time."""

    flows: list[float] = field(default_factory=list)
    steps: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    wall: float = 0.0
    floored_requests: int = 0
    failures: list[str] = field(default_factory=list)


def _mail(inbox: AddressInbox, address: str, kind: str, pattern: re.Pattern[str]) -> str:
    path = inbox.path(address, kind)
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        try:
            found = pattern.search(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            found = None
        if found:
            return found.group(1)
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {kind} mail for {address}")
        time.sleep(MAIL_POLL_S)


def one_flow(client: httpx.Client, inbox: AddressInbox, sid: str, run: Run) -> None:
    """One complete recovery of ``sid`` through the API."""
    headers = {"X-Forwarded-For": source_of(sid)}
    client.cookies.clear()  # a new browser per subject
    address = f"{sid}@example.org"
    marks: list[tuple[str, float]] = [("", time.perf_counter())]
    requests = 0

    def post(path: str, body: dict[str, Any] | None, expect: int) -> dict[str, Any]:
        nonlocal requests
        requests += 1
        answer = client.post(f"{API}{path}", json=body, headers=headers)
        if answer.status_code != expect:
            raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:200]}")
        data: dict[str, Any] = answer.json()
        return data

    def mark(step: str) -> None:
        marks.append((step, time.perf_counter()))

    flow = post("/recoveries", {"identifier": sid}, 202)["flow"]
    mark("start")
    post(f"/recoveries/{flow}/email-code", None, 202)
    mark("email-code")
    code = _mail(inbox, address, "email_code", CODE)
    mark("code mail")
    post(f"/recoveries/{flow}/proofs", {"method": "email_code", "code": code}, 200)
    mark("proof")
    token = _mail(inbox, address, "reset_link", TOKEN)
    mark("link mail")
    password = "-".join(secrets.token_hex(3) for _ in range(5))
    ticket = post("/reset", {"token": token, "new_password": password}, 200)["progress"]
    mark("new password")
    deadline = time.monotonic() + TIMEOUT_S
    while not (seen := post("/reset/progress", {"ticket": ticket}, 200))["finished"]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{sid}: not finished")
        time.sleep(PROGRESS_POLL_S)
    mark("completion")
    if seen["state"] != "completed":
        run.failures.append(f"{sid}: case ended {seen['state']}")
    for (_, before), (step, after) in pairwise(marks):
        run.steps[step].append(after - before)
    run.flows.append(marks[-1][1] - marks[0][1])
    run.floored_requests += requests


def drive(base: str, inbox: AddressInbox, subjects: list[str], callers: int) -> Run:
    """``subjects`` recovered by ``callers`` concurrent callers."""
    run = Run()
    queue = iter(subjects)
    lock = threading.Lock()

    def caller() -> None:
        with httpx.Client(base_url=base, timeout=TIMEOUT_S) as client:
            while True:
                with lock:
                    sid = next(queue, None)
                if sid is None:
                    return
                try:
                    one_flow(client, inbox, sid, run)
                except Exception as exc:  # counted and printed, never hidden
                    run.failures.append(f"{sid}: {type(exc).__name__}: {exc}")

    start = time.perf_counter()
    with ThreadPoolExecutor(callers) as pool:
        for done in [pool.submit(caller) for _ in range(callers)]:
            done.result()
    run.wall = time.perf_counter() - start
    return run


def raw_write_rate(write: Callable[[str], object], accounts: list[str], callers: int) -> float:
    """Raw password writes per second with ``callers`` threads."""
    queue = iter(accounts)
    lock = threading.Lock()

    def caller() -> None:
        while True:
            with lock:
                account = next(queue, None)
            if account is None:
                return
            write(account)

    start = time.perf_counter()
    with ThreadPoolExecutor(callers) as pool:
        for done in [pool.submit(caller) for _ in range(callers)]:
            done.result()
    return len(accounts) / (time.perf_counter() - start)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p * len(ordered)) - 1))]


def report(label: str, run: Run, raw_rate: float, floor_ms: int, load: str) -> None:
    rate = len(run.flows) / run.wall if run.wall else 0.0
    print(
        f"{label}: {len(run.flows)} flows in {run.wall:.1f}s = {rate:.1f} flows/s "
        f"({rate / raw_rate:.3f} of the raw write rate); loadavg {load}"
    )
    if run.flows:
        print(
            f"  whole flow p50 {statistics.median(run.flows) * 1e3:,.0f} ms, "
            f"p95 {percentile(run.flows, 0.95) * 1e3:,.0f} ms"
        )
        per_flow = run.floored_requests / len(run.flows)
        print(
            f"  equal-time floor {floor_ms} ms on each of {per_flow:.1f} self-service "
            f"requests per flow: at least {floor_ms * per_flow:,.0f} ms of every flow"
        )
    print(f"  {'step':<14}{'p50 ms':>9}{'p95 ms':>9}")
    for step, values in run.steps.items():
        print(
            f"  {step:<14}{statistics.median(values) * 1e3:>9.1f}"
            f"{percentile(values, 0.95) * 1e3:>9.1f}"
        )
    for failure in run.failures[:5]:
        print(f"  FAILED {failure}")
    if run.failures:
        print(f"  {len(run.failures)} flow(s) failed")


if __name__ == "__main__":
    child(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
