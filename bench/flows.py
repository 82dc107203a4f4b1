"""Benchmark: complete self-service recoveries on the embedded default (SQLite
and the built-in directory), through the service layer the API calls, then
through the HTTP API itself.

Service face: per-step latency and the ratio of one whole flow to the built-in
directory's own password write, measured in the same run on the same database
(target: a flow costs at most 3x that write).

HTTP face (``bench/flows_http.py``): ``--callers`` (16) concurrent callers
drive complete recoveries through the API served by its own process, with the
propagation worker in another; p50, p95 and throughput of whole flows, against
the built-in directory's raw password write rate at the same concurrency in
the same run; once with the equal-time floor as configured and once with it at
0, reported apart. No target yet.

    uv run python bench/flows.py            # 50 flows on each face
    uv run python bench/flows.py -n 200 --face http
"""

from __future__ import annotations

import argparse
import re
import secrets
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import flows_http

from custos import logs
from custos.bootstrap import bootstrap
from custos.config import load_settings
from custos.connectors.builtin import BuiltinDirectory
from custos.credentials.keys import MasterKey
from custos.domain.model import Contact, ContactKind, LinkedAccount, Subject
from custos.notify.base import Message
from custos.propagation.worker import Worker
from custos.service.notices.outbox_sweep import deliver_due
from custos.service.ports import Services
from custos.service.recovery import credentials, self_service

T = TypeVar("T")
CODE = re.compile(r"is (\d{8})\.")
TOKEN = re.compile(r"#token=(\S+)")


class MemoryInbox:
    """Keeps the last message per address, so the benchmark reads no files."""

    def __init__(self) -> None:
        self.last: dict[tuple[str, str], str] = {}

    def send(self, message: Message) -> None:
        self.last[(message.to, message.kind)] = message.body


def timed(samples: dict[str, list[float]], step: str, fn: Callable[[], T]) -> T:
    start = time.perf_counter()
    result = fn()
    samples[step].append(time.perf_counter() - start)
    return result


def setup(folder: Path, count: int) -> tuple[Services, MemoryInbox]:
    inbox = MemoryInbox()
    settings = load_settings(None, data_dir=folder, sealing_key=MasterKey.generate().to_b64())
    svc = bootstrap(settings, migrate=True, notifier=inbox)
    add_subjects(svc, count)
    return svc, inbox


def add_subjects(svc: Services, count: int) -> None:
    """``count`` subjects with a confirmed email and a built-in directory account."""
    directory = BuiltinDirectory("directory", svc.engine)
    with svc.uow() as uow:
        for i in range(count):
            sid = f"user{i:05d}"
            uow.subjects.add(
                Subject(
                    id=sid,
                    display_name=f"User {i}",
                    groups=frozenset({"staff"}),
                    contacts=(Contact(ContactKind.EMAIL, f"{sid}@example.org", True),),
                    accounts=(LinkedAccount("directory", sid),),
                ),
                now=svc.clock.now(),
            )
        uow.commit()
    for i in range(count):
        directory.create_account(f"user{i:05d}")


def baseline(svc: Services, count: int) -> float:
    """Mean seconds of one raw password write to the built-in directory."""
    directory = BuiltinDirectory("directory", svc.engine)
    start = time.perf_counter()
    for i in range(count):
        directory.set_password(f"user{i:05d}", secrets.token_urlsafe(18), must_change=False)
    return (time.perf_counter() - start) / count


def flow(
    svc: Services, inbox: MemoryInbox, worker: Worker, sid: str, samples: dict[str, list[float]]
) -> None:
    address = f"{sid}@example.org"
    handle = timed(
        samples,
        "start",
        # One source per subject, as real callers: per-source limits would
        # otherwise throttle the benchmark itself.
        lambda: self_service.start(svc, identifier=sid, source_address=flows_http.source_of(sid)),
    )
    timed(samples, "email_code", lambda: self_service.request_email_code(svc, handle=handle))
    deliver_due(svc)  # the worker's outbox sweep, outside the timed request
    match = CODE.search(inbox.last[(address, "email_code")])
    assert match
    code = match.group(1)
    timed(
        samples,
        "proof",
        lambda: self_service.submit_proof(svc, handle=handle, method="email_code", response=code),
    )
    deliver_due(svc)
    token_match = TOKEN.search(inbox.last[(address, "reset_link")])
    assert token_match
    token = token_match.group(1)
    password = "-".join(secrets.token_hex(3) for _ in range(5))
    timed(samples, "redeem", lambda: credentials.redeem(svc, token=token, new_password=password))

    def propagate() -> None:
        while worker.run_once():
            pass

    timed(samples, "propagate+verify", propagate)


def bench_service(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        svc, inbox = setup(Path(tmp), n)
        raw = baseline(svc, n)
        worker = Worker(svc, owner="bench")
        samples: dict[str, list[float]] = defaultdict(list)
        wall = time.perf_counter()
        for i in range(n):
            flow(svc, inbox, worker, f"user{i:05d}", samples)
        per_flow = (time.perf_counter() - wall) / n

    print(f"self-service flows: {n} on SQLite + built-in directory; loadavg {flows_http.load()}")
    print(f"{'step':<18}{'median ms':>11}{'p95 ms':>9}{'x raw write':>13}")
    for step, values in samples.items():
        values.sort()
        p95 = values[max(0, int(len(values) * 0.95) - 1)]
        print(
            f"{step:<18}{statistics.median(values) * 1e3:>11.2f}{p95 * 1e3:>9.2f}"
            f"{statistics.median(values) / raw:>13.2f}"
        )
    print(f"{'raw write':<18}{raw * 1e3:>11.2f}")
    ratio = per_flow / raw
    print(
        f"whole flow: {per_flow * 1e3:.2f} ms = {ratio:.2f}x the directory's own password "
        f"write (target <= 3.00x): {'OK' if ratio <= 3 else 'OVER TARGET'}"
    )


def bench_http(n: int, callers: int) -> None:
    """Raw writes, then flows with the configured floor, then with none."""
    key = MasterKey.generate().to_b64()
    floor_ms = load_settings(None).enumeration_floor_ms
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = load_settings(None, data_dir=folder, sealing_key=key)
        svc = bootstrap(settings, migrate=True)
        subjects = 2 * n
        add_subjects(svc, subjects)
        directory = BuiltinDirectory("directory", svc.engine)
        accounts = [f"user{i:05d}" for i in range(subjects)]
        raw_rate = flows_http.raw_write_rate(
            lambda a: directory.set_password(a, secrets.token_urlsafe(18), must_change=False),
            accounts,
            callers,
        )
        raw_load = flows_http.load()
        svc.engine.dispose()
        print(
            f"HTTP API: {n} complete self-service recoveries per run, {callers} concurrent "
            "callers, API and worker in processes of their own, SQLite + built-in directory"
        )
        print(
            f"raw password writes ({callers} threads, argon2 hash and update): "
            f"{raw_rate:,.1f}/s; loadavg {raw_load}"
        )
        inbox = flows_http.AddressInbox(folder / "inbox")
        for label, floor, first in (
            (f"with the equal-time floor ({floor_ms} ms)", floor_ms, 0),
            ("without the floor (enumeration_floor_ms = 0)", 0, n),
        ):
            with flows_http.served(folder, floor, key) as base:
                run = flows_http.drive(base, inbox, accounts[first : first + n], callers)
            flows_http.report(label, run, raw_rate, floor, flows_http.load())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=50, help="flows per run (and baseline writes)")
    parser.add_argument("--face", choices=("service", "http", "both"), default="both")
    parser.add_argument("--callers", type=int, default=16, help="concurrent HTTP callers")
    args = parser.parse_args()
    logs.configure("warning")
    if args.face in ("service", "both"):
        bench_service(args.n)
    if args.face in ("http", "both"):
        bench_http(args.n, args.callers)


if __name__ == "__main__":
    main()
