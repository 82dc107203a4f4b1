"""Benchmark: propagation through Custos against the same directory written raw.

Starts a throwaway slapd (and, with --ad, provisions a Samba AD DC) on loopback,
prepares N recovered cases (tokens redeemed, secrets sealed, receipts queued),
then measures, in the same run and at the same concurrency:

* Custos: workers claim the receipts, set each password over LDAPS, record the
  receipts and their ledger events, move each case through verifying (read-back
  of the change time) to completed;
* raw ldap3: the same N password writes with ldap3 on persistent connections,
  one per thread (the baseline the issue names; the target is Custos >= 0.8 of
  this rate);
* raw python-ldap: the same again with python-ldap, the library the connectors
  use (about 2-3x ldap3's rate here), reported as the stricter reference;
* raw python-ldap, same work (the target's baseline on slapd): exactly the
  directory work a recovery does, no more: the password modify, then the
  read-back of ``pwdChangedTime`` in one search per 100 accounts (an OR filter,
  as the connector reads back). A self-service recovery needs no pwdReset
  write: the password modify itself clears a pending pwdReset (ppolicy), so the
  connector makes none and neither does this baseline.

Every rate is measured in the same run on the same server, the raw ones after
Custos (each account gets a fresh password each time). Prints the rates and
the ratios, and for each phase the CPU time it cost per operation on both
sides (this process, the directory server's processes), with the rate that
CPU cost allows at most on this machine's cores: client and server share them,
so that ceiling says whether a target is reachable here at all. CPU time is
counted in clock ticks (10 ms), so the figures mean little for small N.

On SQLite with one worker process it also splits the worker's CPU: the store
itself (every statement the worker ran, recorded and replayed with the bare
``sqlite3`` module on a copy of the database taken before the phase, same
parameters, same transactions: bench/store_floor.py), the directory client (the
same work's client CPU), and the rest, Custos's own Python and the libraries
around them. ``--store-breakdown`` prints the store's CPU by statement.

    uv run --all-extras --group dev python bench/propagation.py            # N=5000 on slapd
    uv run --all-extras --group dev python bench/propagation.py -n 1000 --ad --ad-n 200
    uv run --all-extras --group dev python bench/propagation.py --database-url postgresql://postgres@127.0.0.1/test
    uv run --all-extras python bench/propagation.py --database-url URL --worker-processes 2
    uv run --all-extras --group dev python bench/propagation.py -n 1000 --store-breakdown
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar, cast

import ldap
import ldap3
import yaml
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from store_floor import Recorder, not_main_thread, replay, snapshot

from custos import logs
from custos.bootstrap import bootstrap, settle_worker_process
from custos.clock import SystemClock
from custos.config import load_settings
from custos.credentials.keys import MasterKey
from custos.domain.model import Contact, ContactKind, LinkedAccount, Subject
from custos.notify.base import Message
from custos.policy.loader import DEFAULT_POLICY_PATH
from custos.propagation.worker import Worker
from custos.service.notices.outbox_sweep import deliver_due
from custos.service.ports import Services
from custos.service.recovery import credentials, self_service
from custos.store.tables import cases, notice_outbox


class Inbox:
    def __init__(self) -> None:
        self.last: dict[tuple[str, str], str] = {}

    def send(self, message: Message) -> None:
        self.last[(message.to, message.kind)] = message.body


def bench_policy(folder: Path) -> Path:
    """The shipped policy without its privileged tier: that tier requires ending
    sessions, which a directory-only deployment cannot do (so Custos refuses to
    start with it), and the bench recovers staff subjects only."""
    policy = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    policy["tiers"] = [t for t in policy["tiers"] if t["name"] != "privileged"]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bench-policy.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False), encoding="utf-8")
    return path


def services(
    folder: Path, database_url: str | None, targets: dict[str, Any], concurrency: int
) -> tuple[Services, Inbox]:
    inbox = Inbox()
    overrides: dict[str, Any] = {"database_url": database_url} if database_url else {}
    settings = load_settings(
        None,
        data_dir=folder,
        policy_file=bench_policy(folder),
        sealing_key=MasterKey.generate().to_b64(),
        targets=targets,
        worker={"parallelism": concurrency, "batch": concurrency * 32, "poll_interval_s": 0.05},
        **overrides,
    )
    svc = bootstrap(settings, migrate=True, notifier=inbox, clock=SystemClock())
    return svc, inbox


def prepare(
    svc: Services, inbox: Inbox, target: str, accounts: list[str], progress: Callable[[str], None]
) -> None:
    """Subjects linked to ``accounts`` on ``target``, each with a redeemed token."""
    with svc.uow() as uow:
        for account in accounts:
            uow.subjects.add(
                Subject(
                    id=account,
                    display_name=account,
                    groups=frozenset({"staff"}),
                    contacts=(Contact(ContactKind.EMAIL, f"{account}@example.org", True),),
                    accounts=(LinkedAccount(target, account),),
                ),
                now=svc.clock.now(),
            )
        uow.commit()
    for i, account in enumerate(accounts):
        # One source per subject, as real callers: per-source limits would
        # otherwise throttle the preparation itself.
        source = f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
        flow = self_service.start(svc, identifier=account, source_address=source)
        self_service.request_email_code(svc, handle=flow)
        deliver_due(svc)  # what the worker's outbox sweep does
        body = inbox.last[(f"{account}@example.org", "email_code")]
        code = body.split(" is ")[1][:8]
        self_service.submit_proof(svc, handle=flow, method="email_code", response=code)
        deliver_due(svc)
        token = inbox.last[(f"{account}@example.org", "reset_link")].split("#token=")[1].split()[0]
        credentials.redeem(svc, token=token, new_password=f"Bench-{secrets.token_hex(8)}-Aa1")
        if i % 250 == 0:
            progress(f"prepared {i}/{len(accounts)}")


_TICKS = os.sysconf("SC_CLK_TCK")


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) so far of process ``pid`` and its live
    descendants, from /proc (0.0 where /proc is not there)."""
    parents: dict[int, int] = {}
    spent: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the process ended while we looked
        child = int(stat.parent.name)
        parents[child] = int(fields[1])
        spent[child] = (int(fields[11]) + int(fields[12])) / _TICKS
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += spent.get(current, 0.0)
        todo.extend(child for child, parent in parents.items() if parent == current)
    return total


class Phase:
    """Wall time and CPU time of one measured phase: this process (every thread)
    and the directory server (``server_pid`` and its children)."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.wall = self.client_cpu = self.server_cpu = 0.0

    def __enter__(self) -> Phase:
        self._start = (time.perf_counter(), _own_cpu(), server_cpu(self.server_pid))
        return self

    def __exit__(self, *exc: object) -> None:
        wall, client, server = self._start
        self.wall = time.perf_counter() - wall
        self.client_cpu = _own_cpu() - client
        self.server_cpu = server_cpu(self.server_pid) - server


def _own_cpu() -> float:
    """CPU of this process and of its reaped children (forked workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def fork_workers(svc: Services, extra: int) -> list[int]:
    """``extra`` more worker processes (forked, as ``custos worker`` processes
    beside this one), each with its own database connections; they run until
    SIGTERM. Returns their pids."""
    pids = []
    for n in range(extra):
        pid = os.fork()
        if pid == 0:  # the child: a worker process of its own
            code = 0
            try:
                svc.engine.dispose(close=False)  # never share the parent's connections
                ended = threading.Event()
                signal.signal(signal.SIGTERM, lambda *_, ended=ended: ended.set())
                Worker(svc, owner=f"bench-{n + 2}").run_forever(ended)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        pids.append(pid)
    return pids


def run_custos(svc: Services, total: int, processes: int = 1) -> None:
    """Until every prepared case is completed by ``processes`` worker processes
    (this one and forked ones; each has ``parallelism`` threads writing the
    directory concurrently) and every recovery notice has left the outbox
    (sent, its delivery in the ledger). The forked workers' CPU is counted
    with this process's (``Phase``) once they are reaped."""
    stop = threading.Event()
    worker = Worker(svc, owner="bench")
    thread = threading.Thread(target=worker.run_forever, args=(stop,))
    children = fork_workers(svc, processes - 1)
    thread.start()
    try:
        while True:
            with svc.uow(read_only=True) as uow:
                done = uow.conn.execute(
                    select(func.count())
                    .select_from(cases)
                    .where(cases.c.state.in_(["completed", "needs_attention"]))
                ).scalar_one()
                queued = uow.conn.execute(
                    select(func.count()).select_from(notice_outbox)
                ).scalar_one()
            if done >= total and not queued:
                return
            # This poll runs in the measured process: rarely while far from the
            # end (its CPU would be charged to the worker), often near it.
            time.sleep(0.05 if done >= 0.95 * total else 0.5)
    finally:
        stop.set()
        for pid in children:
            os.kill(pid, signal.SIGTERM)
        for pid in children:
            _, status = os.waitpid(pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                print(f"  a forked worker (pid {pid}) failed", file=sys.stderr)
        thread.join()


T = TypeVar("T")

#: Where and as whom the raw writes go: URL, CA file, bind DN, bind password.
Where = tuple[str, Path, str, str]


def timed_writes(dns: list[str], concurrency: int, write: Callable[[str], None]) -> None:
    """``write`` on every DN from ``concurrency`` threads."""
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(write, dns))


def raw_phases(
    server_pid: int,
    dns: list[str],
    concurrency: int,
    ldap3_write: Callable[[str], None],
    python_ldap_write: Callable[[str], None],
) -> tuple[Phase, Phase]:
    """The raw baselines, one after the other: every DN written with ldap3, then
    again with python-ldap."""
    with Phase(server_pid) as ldap3_run:
        timed_writes(dns, concurrency, ldap3_write)
    with Phase(server_pid) as python_ldap_run:
        timed_writes(dns, concurrency, python_ldap_write)
    return ldap3_run, python_ldap_run


def python_ldap_writer(where: Where, modify: Callable[[Any, T], None]) -> Callable[[T], None]:
    """python-ldap, the connectors' library: one bound LDAPS connection per thread."""
    url, ca_file, bind_dn, password = where
    local = threading.local()

    def write(dn: T) -> None:
        if not hasattr(local, "c"):
            c = ldap.initialize(url)
            c.set_option(ldap.OPT_X_TLS_CACERTFILE, str(ca_file))
            c.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
            c.set_option(ldap.OPT_X_TLS_NEWCTX, 0)
            c.simple_bind_s(bind_dn, password)
            local.c = c
        modify(local.c, dn)

    return write


def ldap3_writer(
    where: Where, modify: Callable[[ldap3.Connection, str], bool]
) -> Callable[[str], None]:
    """The issue's baseline: ldap3, one bound LDAPS connection per thread."""
    url, ca_file, bind_dn, password = where
    host, _, port = url.split("//", 1)[1].rstrip("/").partition(":")
    tls = ldap3.Tls(ca_certs_file=str(ca_file), validate=ssl.CERT_REQUIRED)
    local = threading.local()

    def write(dn: str) -> None:
        if not hasattr(local, "c"):
            server = ldap3.Server(host, port=int(port or 636), use_ssl=True, tls=tls)
            local.c = ldap3.Connection(server, bind_dn, password, auto_bind=True)
        c = cast(ldap3.Connection, local.c)
        if not modify(c, dn):
            raise RuntimeError(f"ldap3 write refused: {c.result}")

    return write


#: Accounts per read-back search in the same-work baseline (the connector's
#: ``BATCH_SIZE``).
READ_BACK_CHUNK = 100


def same_work_phase(
    server_pid: int, where: Where, uids: list[str], people_base: str, concurrency: int
) -> Phase:
    """The same-work baseline: per chunk of ``READ_BACK_CHUNK`` accounts, one
    thread sets every password (RFC 3062) and reads the change times back in one
    OR-filter search, on its own bound LDAPS connection."""

    def chunk_work(c: Any, chunk: list[str]) -> None:
        for uid in chunk:
            c.passwd_s(f"uid={uid},{people_base}", None, f"Raw-{secrets.token_hex(8)}-Aa1")
        terms = "".join(f"(uid={uid})" for uid in chunk)
        found = c.search_s(
            people_base,
            ldap.SCOPE_SUBTREE,
            f"(&(objectClass=inetOrgPerson)(|{terms}))",
            ["uid", "pwdChangedTime"],
        )
        if len(found) != len(chunk):
            raise RuntimeError(f"read back {len(found)} of {len(chunk)}")

    chunks = [uids[i : i + READ_BACK_CHUNK] for i in range(0, len(uids), READ_BACK_CHUNK)]
    run = python_ldap_writer(where, chunk_work)
    with Phase(server_pid) as phase, ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(run, chunks))
    return phase


def load() -> str:
    """The 1-, 5- and 15-minute load averages (the machine is shared)."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


#: The worker's CPU per recovery the issue asks for at most (ms).
CPU_TARGET_MS = 0.6


def report(
    label: str,
    n: int,
    custos: Phase,
    ldap3_run: Phase,
    python_ldap_run: Phase,
    target: float,
    same_work: Phase | None = None,
    store_floor: tuple[float, int] | None = None,
) -> None:
    rate, base, strict = n / custos.wall, n / ldap3_run.wall, n / python_ldap_run.wall
    cores = os.cpu_count() or 1
    print(f"{label}: N={n}  (load average now: {load()})")
    if same_work is not None:
        same = n / same_work.wall
        verdict = "OK" if rate / same >= target else "BELOW TARGET"
        print(
            f"  raw python-ldap, same work: {same:8.1f} /s  (write + read-back: the target's base)"
        )
    print(f"  raw writes, ldap3        : {base:8.1f} /s")
    print(f"  raw writes, python-ldap  : {strict:8.1f} /s  (the connectors' library)")
    print(f"  Custos propagation       : {rate:8.1f} /s  (receipts, ledger, read-back, notices)")
    if same_work is not None:
        print(
            f"  ratio Custos / same work : {rate / same:8.2f}  (target >= {target:.2f}): {verdict}"
        )
    else:
        verdict = "OK" if rate / base >= target else "BELOW TARGET"
        print(
            f"  ratio Custos / ldap3     : {rate / base:8.2f}  (target >= {target:.2f}): {verdict}"
        )
    print(f"  ratio Custos / ldap3 writes      : {rate / base:7.2f}")
    print(f"  ratio Custos / python-ldap writes: {rate / strict:7.2f}")
    print(f"  CPU per operation (ms), and the rate it allows at most on {cores} cores:")
    ceilings = {}
    phases = [("Custos", custos), ("ldap3", ldap3_run), ("python-ldap", python_ldap_run)]
    if same_work is not None:
        phases.append(("same work", same_work))
    for name, phase in phases:
        client, server = 1000 * phase.client_cpu / n, 1000 * phase.server_cpu / n
        ceilings[name] = 1000 * cores / (client + server) if client + server else float("inf")
        print(
            f"    {name:<12}: client {client:5.2f} + directory {server:5.2f}"
            f" = {client + server:5.2f}  -> at most {ceilings[name]:8.1f} /s"
        )
    worker = 1000 * custos.client_cpu / n
    print(
        f"  worker CPU per recovery: {worker:.2f} ms (target <= {CPU_TARGET_MS:.2f}): "
        + ("OK" if worker <= CPU_TARGET_MS else "ABOVE TARGET")
    )
    if store_floor is not None and same_work is not None:
        seconds, statements = store_floor
        store, directory = 1000 * seconds / n, 1000 * same_work.client_cpu / n
        print(
            f"  of which the store itself: {store:.2f} ms (raw sqlite3 replaying the"
            f" {statements} statements the worker ran, same parameters and transactions),"
            f" the directory client {directory:.2f} ms (the same work's),"
            f" the rest {worker - store - directory:.2f} ms (Custos's own Python and the"
            " libraries around the store and the directory)"
        )
    reference = n / same_work.wall if same_work is not None else base
    reach = ceilings["Custos"] / reference
    print(
        f"  Custos's CPU ceiling / baseline rate: {reach:.2f}"
        + ("" if reach >= target else f" (below {target:.2f}: out of reach at this CPU cost here)")
    )


def add_people(server: Any, uids: list[str]) -> None:
    """An inetOrgPerson per uid under the slapd's people base."""
    admin = server.admin()
    for uid in uids:
        admin.add_s(
            f"uid={uid},{server.people_base}",
            [
                ("objectClass", [b"inetOrgPerson"]),
                ("uid", [uid.encode()]),
                ("cn", [uid.encode()]),
                ("sn", [uid.encode()]),
                ("userPassword", [b"Initial-Password-123"]),
            ],
        )


def ldap_target(server: Any) -> dict[str, Any]:
    """The Custos target for the slapd, over LDAPS as its service account."""
    return {
        "kind": "ldap",
        "url": server.ldaps_url,
        "ca_file": str(server.ca_file),
        "bind_dn": server.service_dn,
        "bind_password": {"value": server.service_password},
        "user_base": server.people_base,
    }


def bench_slapd(args: argparse.Namespace, folder: Path) -> None:
    from servers.slapd import launch

    server = launch(folder / "slapd")
    try:
        uids = [f"b{i:05d}" for i in range(args.n)]
        add_people(server, uids)
        target = ldap_target(server)
        svc, inbox = services(
            folder / "custos-ldap", args.database_url, {"ldap": target}, args.concurrency
        )
        prepare(svc, inbox, "ldap", uids, lambda m: print(f"  {m}", file=sys.stderr))
        pid = server.pid
        print(f"  load average before Custos: {load()}", file=sys.stderr)
        settle_worker_process()  # as `custos worker` does in its own process
        recorder = floor_copy = None
        if svc.engine.dialect.name == "sqlite" and args.worker_processes == 1:
            # The store's share (bench/store_floor.py): the worker's SQL, kept
            # to be replayed raw on a copy of the database as it is now.
            floor_copy = folder / "store-floor.db"
            snapshot(Path(str(svc.engine.url.database)), floor_copy)
            recorder = Recorder(svc.engine, not_main_thread)
            recorder.start()
        with Phase(pid) as custos:
            run_custos(svc, args.n, args.worker_processes)
        store_floor = None
        if recorder is not None and floor_copy is not None:
            recorder.stop()
            by_statement: dict[str, float] | None = {} if args.store_breakdown else None
            store_floor = (replay(floor_copy, recorder.steps, by_statement), recorder.statements)
            if by_statement:
                print("  the store's CPU by statement (replayed raw, top 12, ms per recovery):")
                for text, spent in sorted(by_statement.items(), key=lambda kv: -kv[1])[:12]:
                    print(f"    {1000 * spent / args.n:6.3f}  {' '.join(text.split())[:110]}")
        dns = [f"uid={uid},{server.people_base}" for uid in uids]
        where = (server.ldaps_url, server.ca_file, server.service_dn, server.service_password)
        same_work = same_work_phase(pid, where, uids, server.people_base, args.concurrency)
        ldap3_run, python_ldap_run = raw_phases(
            pid,
            dns,
            args.concurrency,
            ldap3_writer(
                where,
                lambda c, dn: bool(
                    c.extend.standard.modify_password(dn, None, f"Raw-{secrets.token_hex(8)}-Aa1")
                ),
            ),
            python_ldap_writer(
                where, lambda c, dn: c.passwd_s(dn, None, f"Raw-{secrets.token_hex(8)}-Aa1")
            ),
        )
        report(
            "OpenLDAP (slapd, LDAPS, password modify)",
            args.n,
            custos,
            ldap3_run,
            python_ldap_run,
            0.8,
            same_work,
            store_floor,
        )
    finally:
        server.stop()


def bench_ad(args: argparse.Namespace, folder: Path) -> None:
    from servers.samba import provision

    from custos.connectors.active_directory import encode_unicode_pwd

    dc = provision(folder / "samba")
    dc.start()
    try:
        sams = [f"ab{i:04d}" for i in range(args.ad_n)]
        for sam in sams:
            dc.add_user(sam, "Initial-Password-123")
        target = {
            "kind": "active_directory",
            "url": dc.ldaps_url,
            "ca_file": str(dc.ca_file),
            "bind_dn": dc.admin_dn,
            "bind_password": {"value": dc.admin_password},
            "user_base": dc.user_base,
        }
        svc, inbox = services(
            folder / "custos-ad", args.database_url, {"ad": target}, args.concurrency
        )
        prepare(svc, inbox, "ad", sams, lambda m: print(f"  {m}", file=sys.stderr))
        pid = dc.pid
        settle_worker_process()
        with Phase(pid) as custos:
            run_custos(svc, args.ad_n)
        admin = dc.admin()
        dns = [
            admin.search_s(dc.user_base, ldap.SCOPE_SUBTREE, f"(sAMAccountName={sam})", ["dn"])[0][
                0
            ]
            for sam in sams
        ]
        where = (dc.ldaps_url, dc.ca_file, dc.admin_dn, dc.admin_password)

        def new_pwd() -> list[bytes]:
            return [encode_unicode_pwd(f"Raw-{secrets.token_hex(8)}-Aa1")]

        ldap3_run, python_ldap_run = raw_phases(
            pid,
            dns,
            args.concurrency,
            ldap3_writer(
                where,
                lambda c, dn: bool(
                    c.modify(dn, {"unicodePwd": [(ldap3.MODIFY_REPLACE, new_pwd())]})
                ),
            ),
            python_ldap_writer(
                where, lambda c, dn: c.modify_s(dn, [(ldap.MOD_REPLACE, "unicodePwd", new_pwd())])
            ),
        )
        report(
            "Active Directory (Samba, LDAPS, unicodePwd)",
            args.ad_n,
            custos,
            ldap3_run,
            python_ldap_run,
            0.8,
        )
    finally:
        dc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=5000, help="accounts on slapd")
    parser.add_argument("--ad", action="store_true", help="also benchmark Samba AD")
    parser.add_argument("--ad-n", type=int, default=200, help="accounts on Samba AD")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument(
        "--worker-processes",
        type=int,
        default=1,
        help="worker processes propagating on slapd (more than one: forked beside this one)",
    )
    parser.add_argument(
        "--store-breakdown",
        action="store_true",
        help="print the store's CPU by statement (SQLite, one worker process)",
    )
    args = parser.parse_args()
    if args.worker_processes < 1:
        parser.error("--worker-processes must be at least 1")
    logs.configure("warning")
    with tempfile.TemporaryDirectory() as tmp:
        bench_slapd(args, Path(tmp))
        if args.ad:
            bench_ad(args, Path(tmp))


if __name__ == "__main__":
    main()
