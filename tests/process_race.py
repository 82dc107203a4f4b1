"""Run one action in many forked processes at the same instant, each with its own
Custos services on the test world's database, and collect what each got."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable
from datetime import datetime
from typing import Any

from conftest import World
from custos.bootstrap import bootstrap
from custos.clock import ManualClock
from custos.config import load_settings
from custos.domain.errors import DomainError
from custos.service.ports import Services

Action = Callable[[Services], object]


def settings_of(world: World) -> dict[str, Any]:
    """What a child needs to reach the same database, keys and outbox."""
    s = world.svc.settings
    assert s.sealing_key is not None
    return {
        "data_dir": s.data_dir,
        "database_url": s.effective_database_url,
        "sealing_key": s.sealing_key.get_secret_value(),
        "outbox_dir": s.effective_outbox,
        "public_origin": s.public_origin,
    }


def _child(settings: dict[str, Any], now: str, action: Action, barrier: Any, out: Any) -> None:
    svc = bootstrap(load_settings(None, **settings), clock=ManualClock(datetime.fromisoformat(now)))
    barrier.wait(timeout=120)
    try:
        action(svc)
        out.put("ok")
    except DomainError as exc:
        out.put(exc.error_id)
    except Exception as exc:  # reported, so a crash is a visible failure, not a hang
        out.put(f"crash:{type(exc).__name__}:{exc}")
    finally:
        svc.engine.dispose()


def race(world: World, actions: list[Action]) -> list[str]:
    """Run each action in its own forked process, all released together; returns
    "ok" or the DomainError id each one met, in the order they finished. The
    world's pooled connections are dropped first: none may cross the fork."""
    settings, now = settings_of(world), world.clock.now().isoformat()
    world.svc.engine.dispose()
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(len(actions))
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_child, args=(settings, now, action, barrier, out)) for action in actions
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    return results
