"""The batched, pipelined propagation worker against the built-in directory and
a real slapd: a stopped ``run_forever`` still records the batch in flight, a
batch leaves the same ledger trail per case as one receipt attempted alone,
read-backs mix targets that read many accounts at once with targets read one
by one, a failed read-back puts its case (and only its case) in
needs_attention, and checks that need a target (session revocation) still run
when the batch's read-backs cannot settle them."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from recoveries import self_service_recovery
from servers.slapd import SlapdServer, strong_password
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from conftest import START, World, make_world, pg_schema
from custos.connectors.builtin import BuiltinDirectory
from custos.connectors.builtin_tables import builtin_accounts
from custos.connectors.ldap import LdapConnector
from custos.connectors.registry import ConnectorRegistry
from custos.domain.enrolment import Authenticator, AuthenticatorKind
from custos.domain.events import EventType
from custos.domain.states import CaseState
from custos.ledger.audit import verify
from custos.propagation import verification
from custos.propagation.worker import Worker
from custos.store.receipt_repository import Receipt, ReceiptState
from custos.store.tables import linked_accounts, receipts

PASSWORD = "Saffron-Kettle-Glacier-19-Drum"
Factory = Callable[..., World]


# -- worlds and subjects -----------------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgres"])
def make(
    request: pytest.FixtureRequest, tmp_path: Path, slapd_server: SlapdServer
) -> Iterator[Factory]:
    """Build a World on this backend with the built-in ``directory``, slapd as
    ``ldap`` and any further ``targets``; ``worker`` settings as given."""
    made: list[World] = []
    schemas: list[Any] = []

    def build(*, worker: dict[str, Any] | None = None, **targets: Any) -> World:
        config = {"directory": {"kind": "builtin"}, "ldap": slapd_server.target(), **targets}
        settings: dict[str, Any] = {"targets": config, "worker": worker or {}}
        if request.param == "sqlite":
            world = make_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, **settings)
        else:
            schema = pg_schema()
            url = schema.__enter__()
            schemas.append(schema)
            world = make_world(url, tmp_path, **settings)
        made.append(world)
        return world

    try:
        yield build
    finally:
        for world in made:
            world.svc.engine.dispose()
        for schema in schemas:
            schema.__exit__(None, None, None)


def _link(world: World, subject_id: str, target: str, account_id: str | None = None) -> None:
    with world.svc.uow() as uow:
        uow.conn.execute(
            linked_accounts.insert().values(
                target=target, account_id=account_id or subject_id, subject_id=subject_id
            )
        )
        uow.commit()


def _only(world: World, subject_id: str, target: str) -> None:
    """Move the subject's one linked account to ``target``."""
    with world.svc.uow() as uow:
        uow.conn.execute(
            linked_accounts.update()
            .where(linked_accounts.c.subject_id == subject_id)
            .values(target=target)
        )
        uow.commit()


def _subject(world: World, slapd: SlapdServer, target: str, prefix: str) -> str:
    """A subject whose one linked account is on ``target`` (``directory`` or an
    LDAP target on slapd, where the account is created too)."""
    uid = f"{prefix}-{secrets.token_hex(4)}"
    world.subject(uid)
    if target != "directory":
        slapd.add_user(uid, strong_password())
        _only(world, uid, target)
    return uid


_sources = iter(range(1, 10_000))


def _redeem(world: World, subject_id: str) -> str:
    n = next(_sources)
    return self_service_recovery(
        world, subject_id, password=PASSWORD, source_address=f"10.{n // 250}.{n % 250}.7"
    )


def _types(world: World, case_id: str) -> list[str]:
    with world.svc.uow(read_only=True) as uow:
        return [str(e["type"]) for e in uow.ledger.for_case(case_id)]


def _case(world: World, case_id: str) -> Any:
    with world.svc.uow(read_only=True) as uow:
        return uow.cases.get(case_id)


def _checks(world: World, case_id: str) -> list[tuple[str, str, str, bool]]:
    with world.svc.uow(read_only=True) as uow:
        return sorted(
            (c["name"], c["target"], c["account_id"], c["passed"])
            for c in uow.receipts.checks_for_case(case_id)
        )


def _receipt_rows(world: World) -> list[dict[str, Any]]:
    with world.svc.uow(read_only=True) as uow:
        return [dict(r._mapping) for r in uow.conn.execute(select(receipts))]


class Slow(BuiltinDirectory):
    """The built-in directory, each write taking a while (a remote directory)."""

    def __init__(self, name: str, world: World, delay: float) -> None:
        super().__init__(name, world.svc.engine)
        self.delay = delay

    def set_password(self, account_id: str, password: str, *, must_change: bool) -> str:
        time.sleep(self.delay)
        return super().set_password(account_id, password, must_change=must_change)


class StopAfter(Worker):
    """A worker that sets ``stop`` right after its ``claims``-th non-empty claim,
    and remembers what it claimed."""

    def __init__(self, world: World, stop: threading.Event, claims: int) -> None:
        super().__init__(world.svc, owner="pipelined")
        self.stop, self.claims = stop, claims
        self.claimed: list[Receipt] = []
        self.passes: list[int] = []

    def claim(self) -> list[Receipt]:
        got = super().claim()
        if got:
            self.claimed.extend(got)
            self.claims -= 1
            if self.claims == 0:
                self.stop.set()
        return got


# -- (a) pipelining and stop ---------------------------------------------------------------
def test_stopped_run_forever_records_every_claimed_receipt_and_leaves_no_lease(
    make: Factory,
) -> None:
    """Batches of two, writes slow enough that the second batch is in flight
    while the first is recorded; ``stop`` is set right after the second claim.
    Both batches are recorded (their cases complete), no lease dangles, and
    what was never claimed is untouched."""
    world = make(worker={"batch": 2, "parallelism": 2, "poll_interval_s": 0.05})
    world.svc.registry.register("directory", Slow("directory", world, 0.2), kind="builtin")
    ids = [_redeem(world, world.subject(f"pipe{n}").id) for n in range(5)]
    stop = threading.Event()
    worker = StopAfter(world, stop, claims=2)
    thread = threading.Thread(
        target=worker.run_forever, args=(stop, worker.passes.append), daemon=True
    )
    thread.start()
    thread.join(60)
    worker.close()
    assert not thread.is_alive(), "run_forever did not return after stop"

    claimed = {r.id for r in worker.claimed}
    assert len(claimed) == 4
    rows = _receipt_rows(world)
    assert all(r["lease_owner"] is None and r["lease_until"] is None for r in rows)
    for row in rows:
        if row["id"] in claimed:
            assert (row["state"], row["attempts"]) == ("succeeded", 1)
        else:
            assert (row["state"], row["attempts"]) == ("pending", 0)
    done = {r.case_id for r in worker.claimed}
    for case_id in ids:
        expected = CaseState.COMPLETED if case_id in done else CaseState.EXECUTING
        assert _case(world, case_id).state == expected
    assert sum(worker.passes) >= 4
    assert verify(world.svc).ok  # the batched appends keep the tree whole


def test_a_failing_recording_does_not_kill_run_forever(make: Factory) -> None:
    """A pass whose recording fails is logged and the loop goes on: the lease
    runs out and a later pass attempts the receipt again."""
    world = make(worker={"batch": 5, "poll_interval_s": 0.05})
    case_id = _redeem(world, world.subject("phoenix").id)
    stop = threading.Event()
    worker = Worker(world.svc, owner="fragile")
    real = worker._record_all
    failures = [1]

    def flaky(batch: Any) -> list[str]:
        if failures:
            failures.pop()
            world.clock.advance(timedelta(seconds=world.svc.settings.worker.lease_s + 1))
            raise RuntimeError("database went away for a moment")
        return real(batch)

    worker._record_all = flaky  # type: ignore[method-assign]

    def on_pass(_: int) -> None:
        if _case(world, case_id).state == CaseState.COMPLETED:
            stop.set()

    thread = threading.Thread(target=worker.run_forever, args=(stop, on_pass), daemon=True)
    thread.start()
    thread.join(60)
    stop.set()
    thread.join(10)
    worker.close()
    assert not thread.is_alive()
    assert failures == []
    assert _case(world, case_id).state == CaseState.COMPLETED
    with world.svc.uow(read_only=True) as uow:
        (receipt,) = uow.receipts.for_case(case_id)
    assert receipt.state == ReceiptState.SUCCEEDED and receipt.attempts == 1


class CountingWrites(BuiltinDirectory):
    """The built-in directory, counting password writes per account."""

    def __init__(self, world: World) -> None:
        super().__init__("directory", world.svc.engine)
        self.writes: dict[str, int] = {}

    def set_password(self, account_id: str, password: str, *, must_change: bool) -> str:
        self.writes[account_id] = self.writes.get(account_id, 0) + 1
        return super().set_password(account_id, password, must_change=must_change)


def test_a_pass_failing_while_a_batch_is_in_flight_still_records_that_batch(
    make: Factory,
) -> None:
    """The pass after a claim fails in its housekeeping (a database hiccup)
    while the claimed batch's writes are in flight. The batch was written to
    the target: its results must still be recorded (lease released, case
    completed), not dropped until the lease runs out and the target written a
    second time. ``stop`` comes a few quiet passes later."""
    world = make(worker={"batch": 5, "poll_interval_s": 0.05})
    directory = CountingWrites(world)
    world.svc.registry.register("directory", directory, kind="builtin")
    subject = world.subject("hiccup").id
    case_id = _redeem(world, subject)
    worker = Worker(world.svc, owner="hiccup")
    real = worker._housekeeping
    calls: list[int] = []

    def housekeeping(*, chores: bool = True) -> int:
        calls.append(1)
        if len(calls) == 2:  # the pass right after the claim
            raise OperationalError("SELECT 1", {}, Exception("database is locked"))
        return real(chores=chores)

    worker._housekeeping = housekeeping  # type: ignore[method-assign]
    stop = threading.Event()
    passes: list[int] = []

    def on_pass(done: int) -> None:
        passes.append(done)
        if len(passes) >= 5:
            stop.set()

    thread = threading.Thread(target=worker.run_forever, args=(stop, on_pass), daemon=True)
    thread.start()
    thread.join(60)
    worker.close()
    assert not thread.is_alive()
    assert len(calls) >= 3  # the failing pass happened, and later ones
    assert directory.writes == {subject: 1}
    rows = _receipt_rows(world)
    assert [(r["state"], r["attempts"], r["lease_owner"]) for r in rows] == [("succeeded", 1, None)]
    assert _case(world, case_id).state == CaseState.COMPLETED


# -- (b) the same trail batched or alone -------------------------------------------------
def test_a_batch_leaves_each_case_the_ledger_trail_of_a_case_attempted_alone(
    make: Factory, slapd_server: SlapdServer
) -> None:
    """Three cases per target in one batch, and one per target through
    ``attempt()``: every case has the same sequence of ledger event types
    (R-38), whether its checks were settled in the recording transaction
    (slapd: read back in bulk, no sessions) or after it (built-in directory:
    sessions to end). Every case completes and its subject is told (R-22)."""
    world = make()
    batched = {
        target: [_redeem(world, _subject(world, slapd_server, target, "bat")) for _ in range(3)]
        for target in ("directory", "ldap")
    }
    worker = Worker(world.svc, owner="batch")
    assert worker.run_once() >= 6
    alone: dict[str, str] = {}
    for target in ("directory", "ldap"):
        alone[target] = _redeem(world, _subject(world, slapd_server, target, "one"))
        (receipt,) = worker.claim()
        worker.attempt(receipt)
    worker.close()
    world.send_notices()  # the completion notices, as the next pass would

    reference = _types(world, alone["directory"])
    tail = reference[reference.index(str(EventType.RECEIPT_SUCCEEDED)) :]
    assert tail == [
        str(EventType.RECEIPT_SUCCEEDED),
        str(EventType.CASE_STATE_CHANGED),  # verifying
        str(EventType.CHECK_PASSED),  # read_back
        str(EventType.CHECK_PASSED),  # sessions_revoked
        str(EventType.CASE_STATE_CHANGED),  # completed
        str(EventType.CASE_VALIDATED),
        str(EventType.SECRET_WIPED),
        str(EventType.NOTIFICATION_SENT),
    ]
    for target in ("directory", "ldap"):
        for case_id in [*batched[target], alone[target]]:
            assert _types(world, case_id) == reference, (target, case_id)
            assert _case(world, case_id).state == CaseState.COMPLETED
            assert [c[0] for c in _checks(world, case_id)] == ["read_back", "sessions_revoked"]
    assert verify(world.svc).ok


def test_record_all_settles_checks_from_the_batch_read_backs_when_they_suffice(
    make: Factory, slapd_server: SlapdServer
) -> None:
    """slapd keeps no sessions and was read back right after the writes: its
    cases complete in the recording transaction. Built-in directory cases have
    sessions to end, so they stay verifying for ``_verify_all``, which ends the
    sessions (R-24, R-25)."""
    world = make()
    ldap_case = _redeem(world, _subject(world, slapd_server, "ldap", "settle"))
    dir_subject = _subject(world, slapd_server, "directory", "settle")
    dir_case = _redeem(world, dir_subject)
    session = world.directory.open_session(dir_subject)
    worker = Worker(world.svc, owner="settle")
    claimed = worker.claim()
    assert len(claimed) == 2
    batch = worker._attempt_all(claimed)
    assert set(batch.read_back) == {"directory", "ldap"}
    left = worker._record_all(batch)
    assert left == [dir_case]
    assert _case(world, ldap_case).state == CaseState.COMPLETED
    assert _case(world, dir_case).state == CaseState.VERIFYING
    assert world.directory.live_sessions(dir_subject) == 1
    assert worker._verify_all(left) == 1
    worker.close()
    assert _case(world, dir_case).state == CaseState.COMPLETED
    assert world.directory.live_sessions(dir_subject) == 0
    with world.svc.uow(read_only=True) as uow:
        detail = {c["name"]: c["detail"] for c in uow.receipts.checks_for_case(dir_case)}
    assert detail["sessions_revoked"] == "1 session(s) ended"
    assert session


# -- (c) targets that read many accounts and targets that do not -----------------------------
@pytest.mark.parametrize("second", ["ldap_single", "cloud"])
def test_a_case_on_a_bulk_and_a_one_by_one_target_gets_one_read_back_per_account(
    make: Factory, slapd_server: SlapdServer, second: str
) -> None:
    """Each subject has an account on slapd (read back many at once) and one on
    a target whose ``read_password_changed_many`` is disabled in configuration
    (another slapd target, or a built-in directory); two such cases in one
    batch complete with exactly one read_back (and one sessions_revoked, R-24,
    R-25) check per account, all passed."""
    disabled = {"disabled_capabilities": ["read_password_changed_many"]}
    if second == "ldap_single":
        world = make(ldap_single=slapd_server.target(**disabled))
    else:
        world = make(cloud={"kind": "builtin", **disabled})
    assert "read_password_changed_many" not in world.svc.registry.get(second).capabilities
    assert "read_password_changed_many" in world.svc.registry.get("ldap").capabilities
    cases: dict[str, tuple[str, str]] = {}
    for _ in range(2):
        uid = _subject(world, slapd_server, "ldap", "mixed")
        other = f"{uid}-2"
        if second == "ldap_single":
            slapd_server.add_user(other, strong_password())
        else:
            BuiltinDirectory("cloud", world.svc.engine).create_account(other, "x" * 20)
        _link(world, uid, second, other)
        cases[_redeem(world, uid)] = (uid, other)
    worker = Worker(world.svc, owner="mixed")
    claimed = worker.claim()
    assert len(claimed) == 4
    worker._finish(worker._attempt_all(claimed))
    worker.close()
    for case_id, (uid, other) in cases.items():
        assert _case(world, case_id).state == CaseState.COMPLETED
        assert _checks(world, case_id) == sorted(
            [
                ("read_back", "ldap", uid, True),
                ("read_back", second, other, True),
                ("sessions_revoked", "ldap", uid, True),
                ("sessions_revoked", second, other, True),
            ]
        )
    assert slapd_server.can_bind(f"uid={uid},{slapd_server.people_base}", PASSWORD)


# -- (d) a failed read-back ----------------------------------------------------------------
class Vanishing(LdapConnector):
    """slapd, but the entries of ``doomed`` accounts are deleted right after
    their password is written (before any read-back)."""

    def __init__(self, server: SlapdServer, doomed: set[str]) -> None:
        super().__init__("ldap", server.target())
        self.server, self.doomed = server, doomed

    def set_password(self, account_id: str, password: str, *, must_change: bool) -> str:
        answer = super().set_password(account_id, password, must_change=must_change)
        if account_id in self.doomed:
            conn = self.server.admin()
            try:
                conn.delete_s(f"uid={account_id},{self.server.people_base}")
            finally:
                conn.unbind_s()
        return answer


class Backdating(BuiltinDirectory):
    """The built-in directory, but the change time of ``stale`` accounts is set an
    hour back right after the write (a directory whose clock lies)."""

    def __init__(self, world: World, stale: set[str]) -> None:
        super().__init__("directory", world.svc.engine)
        self.world, self.stale = world, stale

    def set_password(self, account_id: str, password: str, *, must_change: bool) -> str:
        answer = super().set_password(account_id, password, must_change=must_change)
        if account_id in self.stale:
            with self.world.svc.engine.begin() as conn:
                conn.execute(
                    builtin_accounts.update()
                    .where(
                        builtin_accounts.c.target == "directory",
                        builtin_accounts.c.account_id == account_id,
                    )
                    .values(password_changed_at=START - timedelta(hours=1))
                )
        return answer


@pytest.mark.parametrize("target", ["ldap", "directory"])
def test_a_failed_read_back_puts_only_its_case_in_needs_attention_naming_the_check(
    make: Factory, slapd_server: SlapdServer, target: str
) -> None:
    """slapd: the entry is gone by the read-back (judged in the recording
    transaction). Built-in directory: the change time is before the recovery
    (judged by ``_verify_all``). The other case of the same batch completes;
    the failing one names ``read_back on <target>``, keeps its secret for an
    operator's retry and sends no completion notice."""
    world = make()
    bad = _subject(world, slapd_server, target, "bad")
    good = _subject(world, slapd_server, target, "good")
    if target == "ldap":
        world.svc.registry.register("ldap", Vanishing(slapd_server, {bad}), kind="ldap")
    else:
        world.svc.registry.register("directory", Backdating(world, {bad}), kind="builtin")
    bad_case, good_case = _redeem(world, bad), _redeem(world, good)
    notices_before = len(world.mail(f"{bad}@example.org", "recovery_notice"))
    worker = Worker(world.svc, owner="readback")
    worker.run_once()
    worker.close()

    case = _case(world, bad_case)
    assert case.state == CaseState.NEEDS_ATTENTION
    assert case.outcome_reason.startswith(f"post-recovery check failed: read_back on {target}: ")
    assert ("read_back", target, bad, False) in _checks(world, bad_case)
    with world.svc.uow(read_only=True) as uow:
        (receipt,) = uow.receipts.for_case(bad_case)
        failed = [
            e for e in uow.ledger.for_case(bad_case) if e["type"] == str(EventType.CHECK_FAILED)
        ]
        assert uow.secrets.get(bad_case) is not None
    assert receipt.state == ReceiptState.SUCCEEDED
    assert [e["data"]["check"] for e in failed] == ["read_back"]
    expected = "no account" if target == "ldap" else "before"
    assert expected in failed[0]["reason"]
    assert str(EventType.SECRET_WIPED) not in _types(world, bad_case)
    assert len(world.mail(f"{bad}@example.org", "recovery_notice")) == notices_before
    assert _case(world, good_case).state == CaseState.COMPLETED


# -- (e) checks that need a target ---------------------------------------------------------
def _receipt(n: int, target: str, account_id: str) -> Receipt:
    return Receipt(
        id=n,
        case_id=f"case-{n}",
        target=target,
        account_id=account_id,
        required=True,
        state=ReceiptState.SUCCEEDED,
        attempts=1,
        max_attempts=5,
        next_attempt_at=START,
        last_error=None,
        answer="password replaced",
        succeeded_at=START,
        updated_at=START,
    )


class Counting(BuiltinDirectory):
    """The built-in directory, counting its read-back calls."""

    def __init__(self, name: str, world: World) -> None:
        super().__init__(name, world.svc.engine)
        self.bulk_calls: list[list[str]] = []
        self.single_calls = 0

    def passwords_changed_at(self, account_ids: Any) -> Any:
        self.bulk_calls.append(sorted(account_ids))
        return super().passwords_changed_at(account_ids)

    def password_changed_at(self, account_id: str) -> Any:
        self.single_calls += 1
        return super().password_changed_at(account_id)


def test_judge_now_defers_checks_that_need_a_target_and_run_checks_many_runs_them(
    make: Factory,
) -> None:
    """``judge_now`` answers only when no check needs a call: None while sessions
    must be ended (the target can revoke them) or a read-back is missing;
    otherwise exactly what ``run_checks`` answers. ``run_checks_many`` then ends
    the sessions (R-24, R-25) and reads the bulk target back in one call. A
    session check on a target that cannot revoke is "not applicable", which
    fails unless the tier made it optional; ``mfa_bound`` runs once per case,
    in Custos, and fails (naming every system) without a bound security key."""
    world = make()
    registry = ConnectorRegistry()
    sessions = Counting("sessions", world)
    quiet = Counting("quiet", world)
    registry.register("sessions", sessions, kind="builtin")
    registry.register("quiet", quiet, kind="builtin", disabled=frozenset({"revoke_sessions"}))
    for connector, account in ((sessions, "amy"), (sessions, "ben"), (quiet, "cat")):
        connector.create_account(account, "initial-password-1")
    opened = [sessions.open_session("amy") for _ in range(2)]
    since = datetime(2000, 1, 1, tzinfo=UTC)  # create_account stamped a later time
    names = ("read_back", "sessions_revoked", "mfa_bound")
    optional = frozenset({"sessions_revoked"})
    key = Authenticator("a1", "amy", AuthenticatorKind.WEBAUTHN, "key", since, "test")
    amy = verification.CaseChecks(
        "c-amy", names, [_receipt(1, "sessions", "amy")], since, optional, "amy", bound=(key,)
    )
    ben = verification.CaseChecks(
        "c-ben", names, [_receipt(2, "sessions", "ben")], since, optional, "ben", bound=(key,)
    )
    cat = verification.CaseChecks(
        "c-cat", names, [_receipt(3, "quiet", "cat")], since, optional, "cat"
    )
    strict = replace(cat, optional=frozenset())

    with ThreadPoolExecutor(2) as pool:
        bulk = verification.read_back_many(
            registry, {"sessions": {"amy", "ben"}, "quiet": {"cat"}}, pool
        )
        assert verification.judge_now(registry, amy, bulk) is None  # sessions to end
        assert verification.judge_now(registry, cat, {}) is None  # not read back yet
        at_hand = verification.judge_now(registry, cat, bulk) or []
        assert at_hand[:2] == verification.run_checks(
            registry, names, cat.receipts, since=since, optional=optional
        )
        assert [(r.name, r.verdict, r.passed) for r in at_hand] == [
            ("read_back", "passed", True),
            ("sessions_revoked", "not_applicable", True),
            ("mfa_bound", "failed", False),
        ]
        assert "optional in this tier" in at_hand[1].detail
        assert at_hand[2].target == "custos"
        assert "Custos (bound: none)" in at_hand[2].detail
        assert "quiet/cat (reports no factors)" in at_hand[2].detail
        required = verification.judge_now(registry, strict, bulk) or []
        assert (required[1].verdict, required[1].passed) == ("not_applicable", False)
        assert "the tier requires this check" in required[1].detail
        assert sessions.live_sessions("amy") == 2  # judging ended nothing

        for counting in (sessions, quiet):
            counting.bulk_calls.clear()
            counting.single_calls = 0
        results = verification.run_checks_many(registry, [amy, ben, cat], pool=pool)
    assert sessions.bulk_calls == [["amy", "ben"]]  # one read-back call per target
    assert quiet.bulk_calls == [["cat"]]
    assert sessions.single_calls == 0 and quiet.single_calls == 0
    assert [(r.name, r.passed, r.detail) for r in results["c-amy"]][1] == (
        "sessions_revoked",
        True,
        "2 session(s) ended",
    )
    assert sessions.live_sessions("amy") == 0 and len(opened) == 2
    assert {case_id: [r.name for r in rs] for case_id, rs in results.items()} == {
        "c-amy": ["read_back", "sessions_revoked", "mfa_bound"],
        "c-ben": ["read_back", "sessions_revoked", "mfa_bound"],
        "c-cat": ["read_back", "sessions_revoked", "mfa_bound"],
    }
    assert results["c-amy"][2].detail.startswith("webauthn authenticator 'key' bound in Custos")
    assert [r.passed for r in results["c-cat"]] == [True, True, False]
    assert all(r.passed for case_id in ("c-amy", "c-ben") for r in results[case_id])
