"""Campaign notifications: every change of a campaign's state goes to the
signed security webhook (when configured) through the notice outbox, written
in the change's own transaction: a rolled-back change sends nothing, a process
killed after the commit loses nothing. The subjects themselves hear of their
own case as any recovery's subject does (R-22)."""

from __future__ import annotations

from typing import Any

from custos.domain.campaigns import Campaign
from custos.domain.events import EventType, utc
from custos.service.notices.webhooks import queue_security_webhook
from custos.service.ports import Services
from custos.store.unit_of_work import UnitOfWork


def alert(
    svc: Services, uow: UnitOfWork, campaign: Campaign, kind: EventType, **extra: object
) -> None:
    """Queue the webhook for ``kind`` on ``campaign`` in ``uow``'s transaction;
    the worker's sweep posts it once committed, at least once."""
    payload: dict[str, Any] = {
        "type": str(kind),
        "time": utc(campaign.updated_at),
        "campaign": campaign.id,
        "group": campaign.group,
        "action": str(campaign.action),
        "ticket": campaign.ticket,
        "state": str(campaign.state),
        **extra,
    }
    queue_security_webhook(svc, uow, kind="campaign", payload=payload)
