"""Benchmark: an incident campaign through Custos against the same directory
work done raw with python-ldap.

Starts a throwaway slapd on loopback (the setup of bench/propagation.py) with N
accounts, N subjects of one group each linked to one of them, then measures,
in the same run and at the same concurrency:

* Custos: a force-reset campaign over the group, from the second approval to
  the campaign's end: the worker opens one case per subject in batches
  (ledger events, sealed random password, receipts), writes every password
  over LDAPS (password modify), records the receipts, reads the change time
  back and completes each case, then finishes the campaign (the objects of
  the start frozen first and young collections made rarer, as ``custos
  worker`` does: ``settle_worker_process``);
* raw python-ldap (the connectors' library): the same directory work, a
  password modify per subject and the read-back of ``pwdChangedTime`` in one
  search per 100 subjects (as the connector reads back), from the same number
  of threads, each on its own bound LDAPS connection (``same_work_phase`` of
  bench/propagation.py). A force-reset's password carries no must-change, so
  neither side writes pwdReset.

Prints both rates, their ratio (the target is Custos >= 0.8 of the raw rate)
and the CPU time per subject on both sides (this process; the slapd
process), counted in clock ticks (10 ms): small N gives rough figures. On
SQLite it also splits Custos's CPU: the store itself (the phase's SQL recorded
and replayed raw on a copy of the database: bench/store_floor.py), the
directory client (the raw side's) and the rest.

    uv run --all-extras --group dev python bench/campaign.py               # 5000 subjects
    uv run --all-extras --group dev python bench/campaign.py --subjects 500 --concurrency 8
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from propagation import (
    Inbox,
    Phase,
    add_people,
    bench_policy,
    ldap_target,
    load,
    same_work_phase,
)
from store_floor import Recorder, replay, snapshot

from custos import logs
from custos.bootstrap import bootstrap, settle_worker_process
from custos.clock import SystemClock
from custos.config import load_settings
from custos.credentials.keys import MasterKey
from custos.domain.campaigns import CampaignState
from custos.domain.model import Contact, ContactKind, LinkedAccount, Role, Subject
from custos.propagation.worker import Worker
from custos.service.campaigns import commands, queries
from custos.service.ports import Services
from custos.service.recovery.operators import add_operator
from custos.store.tables import notice_outbox

GROUP = "bench-incident"


def services(
    folder: Path, database_url: str | None, target: dict[str, Any], concurrency: int
) -> Services:
    overrides: dict[str, object] = {"database_url": database_url} if database_url else {}
    return bootstrap(
        load_settings(
            None,
            data_dir=folder,
            policy_file=bench_policy(folder),
            sealing_key=MasterKey.generate().to_b64(),
            targets={"ldap": target},
            worker={"parallelism": concurrency, "batch": concurrency * 32, "poll_interval_s": 0.05},
            **overrides,
        ),
        migrate=True,
        notifier=Inbox(),
        clock=SystemClock(),
    )


def prepare(svc: Services, uids: list[str]) -> None:
    with svc.uow() as uow:
        for uid in uids:
            uow.subjects.add(
                Subject(
                    id=uid,
                    display_name=uid,
                    groups=frozenset({GROUP, "staff"}),
                    contacts=(Contact(ContactKind.EMAIL, f"{uid}@example.org", True),),
                    accounts=(LinkedAccount("ldap", uid),),
                ),
                now=svc.clock.now(),
            )
        uow.commit()


def run_campaign(
    svc: Services, server_pid: int, floor_copy: Path | None = None
) -> tuple[Phase, int, tuple[float, int] | None]:
    """Start and approve a campaign over the group, then time it from the
    quorum to its end with one worker process; returns the phase, how many
    cases completed and, on SQLite with ``floor_copy``, the store's share (the
    CPU seconds of the phase's SQL replayed raw, and how many statements:
    bench/store_floor.py)."""
    people = {
        name: add_operator(
            svc,
            name=name,
            roles=roles,
            scope=["*"],
            groups=["security-approvers"],
        )[0]
        for name, roles in (
            ("starter", [Role.REQUESTER]),
            ("ada", [Role.APPROVER]),
            ("grace", [Role.APPROVER]),
        )
    }
    campaign, _ = commands.start(
        svc, people["starter"], group=GROUP, action="force-reset", reason="bench", ticket="BENCH-1"
    )
    commands.approve(svc, people["ada"], campaign.id, reason="bench")
    stop = threading.Event()
    worker = Worker(svc, owner="bench")
    settle_worker_process()  # as `custos worker` and `custos campaign run` do once started
    polling = threading.local()
    recorder = None
    if floor_copy is not None and svc.engine.dialect.name == "sqlite":
        # Everything the phase runs but this thread's own polling below.
        snapshot(Path(str(svc.engine.url.database)), floor_copy)
        recorder = Recorder(svc.engine, lambda: not getattr(polling, "on", False))
        recorder.start()
    with Phase(server_pid) as phase:
        commands.approve(svc, people["grace"], campaign.id, reason="bench")
        thread = threading.Thread(target=worker.run_forever, args=(stop,))
        thread.start()
        try:
            while True:
                polling.on = True
                with svc.uow(read_only=True) as uow:
                    finished = uow.campaigns.get(campaign.id).state == CampaignState.FINISHED
                    queued = uow.conn.execute(
                        select(func.count()).select_from(notice_outbox)
                    ).scalar_one()
                polling.on = False
                if finished and not queued:  # and every notice sent, as in propagation.py
                    break
                time.sleep(0.1)
        finally:
            stop.set()
            thread.join()
            worker.close()
    store = None
    if recorder is not None and floor_copy is not None:
        recorder.stop()
        store = (replay(floor_copy, recorder.steps), recorder.statements)
    return phase, queries.progress(svc, people["ada"], campaign.id).completed, store


def report(
    n: int,
    custos: Phase,
    raw: Phase,
    completed: int,
    target: float,
    store: tuple[float, int] | None = None,
) -> None:
    rate, base = n / custos.wall, n / raw.wall
    verdict = "OK" if rate / base >= target else "BELOW TARGET"
    print(f"OpenLDAP campaign (slapd, LDAPS, force-reset): N={n}  (load average now: {load()})")
    print(f"  raw python-ldap, modify + read-back : {base:8.1f} subjects/s")
    print(
        f"  Custos campaign                     : {rate:8.1f} subjects/s  ({completed} completed)"
    )
    ratio = f"{rate / base:8.2f}  (target >= {target:.2f}): {verdict}"
    print(f"  ratio Custos / raw                  : {ratio}")
    print("  CPU per subject (ms):")
    for name, phase in (("Custos", custos), ("raw", raw)):
        client, server = 1000 * phase.client_cpu / n, 1000 * phase.server_cpu / n
        total = client + server
        print(f"    {name:<7}: client {client:6.2f} + directory {server:6.2f} = {total:6.2f}")
    if store is not None:
        seconds, statements = store
        mine, floor, directory = (
            1000 * x / n for x in (custos.client_cpu, seconds, raw.client_cpu)
        )
        print(
            f"  of Custos's client CPU, the store itself: {floor:.2f} ms (raw sqlite3 replaying"
            f" the {statements} statements of the phase), the directory client {directory:.2f} ms"
            f" (the raw side's), the rest {mine - floor - directory:.2f} ms (Custos's own"
            " Python and the libraries around the store and the directory)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", type=int, default=5000, help="subjects in the group")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    args = parser.parse_args()
    logs.configure("warning")
    from servers.slapd import launch

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server = launch(folder / "slapd")
        try:
            uids = [f"c{i:05d}" for i in range(args.subjects)]
            add_people(server, uids)
            target = ldap_target(server)
            svc = services(folder / "custos", args.database_url, target, args.concurrency)
            prepare(svc, uids)
            print(f"  load average before Custos: {load()}", file=sys.stderr)
            custos, completed, store = run_campaign(svc, server.pid, folder / "store-floor.db")
            where = (server.ldaps_url, server.ca_file, server.service_dn, server.service_password)
            raw = same_work_phase(server.pid, where, uids, server.people_base, args.concurrency)
            report(args.subjects, custos, raw, completed, 0.8, store)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
