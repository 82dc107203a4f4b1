"""Rotating and retiring the SET signing keys (``custos ssf keys``). Every
change is a ledger event carrying only public key ids (R-36)."""

from __future__ import annotations

from custos.domain.events import DomainEvent, EventType
from custos.service.ports import Services
from custos.signals.keys import NoSigningKey, PublishedKey, SsfKeyRing


def key_ring(svc: Services) -> SsfKeyRing:
    return SsfKeyRing(svc.settings.effective_ssf_keys_dir)


def rotate(svc: Services, *, algorithm: str | None = None, actor: str) -> PublishedKey:
    """Add a key (``algorithm``, else ``[ssf] algorithm``) that signs from now on;
    the previous one stays published until retired. Raises SsfKeyError."""
    ring = key_ring(svc)
    try:
        previous: str | None = ring.active().kid
    except NoSigningKey:
        previous = None
    now = svc.clock.now()
    key = ring.generate(algorithm or svc.settings.ssf.algorithm, now)
    _record(
        svc,
        EventType.SSF_KEY_ROTATED,
        actor,
        {"kid": key.kid, "previous_kid": previous, "algorithm": key.alg},
    )
    return key


def retire(svc: Services, kid: str, *, actor: str) -> PublishedKey:
    """Stop publishing key ``kid``. Raises NotFound, or SsfKeyError for the key
    that signs now."""
    key = key_ring(svc).retire(kid)
    _record(svc, EventType.SSF_KEY_RETIRED, actor, {"kid": key.kid, "algorithm": key.alg})
    return key


def _record(svc: Services, type_: EventType, actor: str, data: dict[str, object]) -> None:
    with svc.uow() as uow:
        uow.ledger.append(
            [
                DomainEvent(
                    type=type_,
                    occurred_at=svc.clock.now(),
                    actor=actor,
                    subject_id=None,
                    case_id=None,
                    data=data,
                )
            ]
        )
        uow.commit()
