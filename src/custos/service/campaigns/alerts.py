"""Campaign notifications: every change of a campaign's state goes to the
signed security webhook (when configured) once it committed. The subjects
themselves hear of their own case as any recovery's subject does (R-22)."""

from __future__ import annotations

from functools import partial
from typing import Any

from custos.domain.campaigns import Campaign
from custos.domain.events import EventType, utc
from custos.service.ports import Services
from custos.service.signals.fraud import security_webhook_hook
from custos.store.unit_of_work import UnitOfWork


def alert(
    svc: Services, uow: UnitOfWork, campaign: Campaign, kind: EventType, **extra: object
) -> None:
    """Queue the webhook for ``kind`` on ``campaign``: sent after the commit,
    never if it rolls back."""
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
    uow.after_commit(partial(security_webhook_hook, svc, payload))
