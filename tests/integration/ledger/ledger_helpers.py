"""Helpers for the ledger tests: filling the ledger, tampering with it through
plain SQL (as an attacker with database access would), and running the CLI on
a World's settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select, text, update
from typer.testing import CliRunner, Result

from conftest import World
from custos.cli.main import app
from custos.domain.events import DomainEvent, EventType
from custos.ledger.heads import key_ring
from custos.ledger.signing import LedgerKey
from custos.store.tables import ledger


def fill(world: World, count: int, *, actor: str = "test:filler") -> None:
    """Append ``count`` plain events, a few per transaction."""
    now = world.clock.now()
    done = 0
    while done < count:
        batch = min(3, count - done)
        with world.svc.uow() as uow:
            uow.ledger.append(
                [
                    DomainEvent(
                        type=EventType.NOTIFICATION_SENT,
                        occurred_at=now,
                        actor=actor,
                        subject_id=f"s{done + i}",
                        case_id=None,
                        data={"n": done + i},
                    )
                    for i in range(batch)
                ]
            )
            uow.commit()
        done += batch


def signing_key(world: World) -> LedgerKey:
    return key_ring(world.svc).ensure(world.clock.now())


def rows(world: World) -> list[Any]:
    with world.svc.engine.connect() as conn:
        return list(
            conn.execute(
                select(ledger.c.seq, ledger.c.leaf_index, ledger.c.canonical).order_by(ledger.c.seq)
            )
        )


def set_canonical(world: World, seq: int, canonical: str) -> None:
    with world.svc.engine.begin() as conn:
        conn.execute(update(ledger).where(ledger.c.seq == seq).values(canonical=canonical))


def sql(world: World, statement: str, **params: Any) -> None:
    with world.svc.engine.begin() as conn:
        conn.execute(text(statement), params)


def cli(world: World, *args: str, env: dict[str, str] | None = None) -> Result:
    """Run ``custos`` on the World's database, keys and data folder."""
    s = world.svc.settings
    assert s.sealing_key is not None
    base: dict[str, str | None] = {
        "CUSTOS_SEALING_KEY": s.sealing_key.get_secret_value(),
        "CUSTOS_DATABASE_URL": s.effective_database_url,
        "CUSTOS_OUTBOX_DIR": str(s.effective_outbox),
        "CUSTOS_CONFIG": None,
        "CUSTOS_SEALING_KEY_FILE": None,
        "CUSTOS_LEDGER_WITNESS_FILE": str(s.ledger_witness_file) if s.ledger_witness_file else None,
        "CUSTOS_SECURITY_WEBHOOK_URL": s.security_webhook_url,
        "CUSTOS_SECURITY_WEBHOOK_SECRET": s.security_webhook_secret.get_secret_value()
        if s.security_webhook_secret
        else None,
    }
    base.update(env or {})
    return CliRunner().invoke(app, ["--data-dir", str(s.data_dir), *args], env=base)


def use_settings(world: World, **changes: Any) -> None:
    """Change the World's settings in place (witness file, webhook...)."""
    world.svc.settings = world.svc.settings.model_copy(update=changes)


def witness_path(world: World) -> Path:
    return Path(world.svc.settings.data_dir) / "witness.jsonl"
