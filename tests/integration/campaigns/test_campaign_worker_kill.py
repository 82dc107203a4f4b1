"""A worker process killed (SIGKILL) in the middle of a campaign batch, on
SQLite and PostgreSQL with a real slapd: the batch it was opening leaves no
trace, the next worker resumes, and every member ends with exactly one case,
completed, its slapd password changed (docs/campaigns.md#exactly-once-whatever-dies)."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from campaign_world import (  # the fixture ``cw``
    CampaignWorld,
    campaign_world_on_each_backend,  # noqa: F401
)
from process_race import settings_of
from sqlalchemy import func, select

from custos.bootstrap import bootstrap
from custos.clock import ManualClock
from custos.config import load_settings
from custos.domain.campaigns import CampaignState
from custos.propagation.worker import Worker
from custos.service.campaigns import execution, queries
from custos.store.tables import campaign_members, cases


def _slow_worker(settings: dict[str, Any], now: str) -> None:
    """A worker on the world's clock whose batches take a while: each case it
    opens after the first batch waits a little, so the parent can kill it
    mid-transaction."""
    svc = bootstrap(load_settings(None, **settings), clock=ManualClock(datetime.fromisoformat(now)))
    real = execution._open_one
    seen = {"n": 0}

    def slow(*args: Any, **kwargs: Any) -> Any:
        seen["n"] += 1
        if seen["n"] > 5:
            time.sleep(0.5)
        return real(*args, **kwargs)

    execution._open_one = slow
    Worker(svc, owner="doomed").run_forever(threading.Event())


def _opened(cw: CampaignWorld, campaign_id: str) -> int:
    with cw.world.svc.uow(read_only=True) as uow:
        return int(
            uow.conn.execute(
                select(func.count()).where(
                    campaign_members.c.campaign_id == campaign_id,
                    campaign_members.c.state == "opened",
                )
            ).scalar_one()
        )


def test_campaign_worker_killed_mid_batch_resumes_each_subject_exactly_once(
    cw: CampaignWorld,
) -> None:
    """A killed worker must not do a subject twice or skip one."""
    members = cw.members(12)
    campaign = cw.approved()
    settings = {
        **settings_of(cw.world),
        "policy_file": cw.world.svc.settings.policy_file,
        "targets": {"directory": {"kind": "builtin"}, "ldap": cw.slapd.target()},
    }
    cw.world.svc.engine.dispose()  # no pooled connection crosses the fork
    now = cw.world.clock.now().isoformat()
    child = mp.get_context("fork").Process(target=_slow_worker, args=(settings, now))
    child.start()
    try:
        deadline = time.monotonic() + 120
        while _opened(cw, campaign.id) < 5:  # the first batch committed
            assert time.monotonic() < deadline, "the worker opened nothing"
            time.sleep(0.05)
        time.sleep(1.0)  # well inside the second batch (5 x 0.5 s)
    finally:
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join(timeout=30)
    assert child.exitcode == -signal.SIGKILL
    assert _opened(cw, campaign.id) == 5  # the batch in flight left nothing behind
    # The dead worker's leases on the first batch's receipts run out.
    cw.world.clock.advance(timedelta(seconds=cw.world.svc.settings.worker.lease_s + 1))
    cw.world.drain(passes=80)
    with cw.world.svc.uow(read_only=True) as uow:
        rows = uow.conn.execute(
            select(cases.c.subject_id, func.count(), func.min(cases.c.state))
            .where(cases.c.subject_id.in_(members))
            .group_by(cases.c.subject_id)
        ).all()
    assert {s: (n, state) for s, n, state in rows} == {m: (1, "completed") for m in members}
    for uid in members:
        assert not cw.slapd.can_bind(cw.slapd_dn(uid), cw.old_passwords[uid])
    done = queries.progress(cw.world.svc, cw.starter, campaign.id)
    assert (done.campaign.state, done.completed) == (CampaignState.FINISHED, 12)
