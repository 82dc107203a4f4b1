"""Ledger key rotation: a new Ed25519 key becomes the active signer; older keys
stay in the ring to verify the heads they signed. Every rotation is a ledger
event (``admin:ledger_key:rotated``, R-36) carrying only public key ids."""

from __future__ import annotations

from custos.domain.events import DomainEvent, EventType
from custos.ledger.heads import key_ring
from custos.ledger.signing import LedgerKey, NoLedgerKey
from custos.service.ports import Services


def rotate_ledger_key(svc: Services, *, actor: str = "cli:local") -> LedgerKey:
    """Generate a new active key, record the rotation, and return the key."""
    ring = key_ring(svc)
    try:
        previous: str | None = ring.active().key_id
    except NoLedgerKey:
        previous = None
    now = svc.clock.now()
    key = ring.generate(now)
    with svc.uow() as uow:
        uow.ledger.append(
            [
                DomainEvent(
                    type=EventType.LEDGER_KEY_ROTATED,
                    occurred_at=now,
                    actor=actor,
                    subject_id=None,
                    case_id=None,
                    data={
                        "key_id": key.key_id,
                        "previous_key_id": previous,
                        "algorithm": "Ed25519",
                    },
                )
            ]
        )
        uow.commit()
    return key
