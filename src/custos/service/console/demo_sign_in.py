"""The demo's way into the console (docs/console.md#the-demo): one sign-in link
per seeded operator, a complete sign-in without password or second factor, so
that a newcomer lands in the console with one click.

Only ``custos demo`` calls this module (tests/unit/test_demo_sign_in_links.py
checks no other module imports it): no command, page or API issues such a link
for any other deployment. Links are single use, expire after 30 minutes and are
stored as SHA-256; each is a ledger event ``admin:operator:link_issued``."""

from __future__ import annotations

from custos.domain.errors import NotFound
from custos.domain.operator_accounts import LinkPurpose
from custos.service.console.operator_links import issue, link_url
from custos.service.ports import Services

DEMO_ACTOR = "system:demo"


def issue_demo_links(svc: Services, names: list[str]) -> dict[str, str]:
    """A fresh sign-in link for each operator in ``names`` (URL by name).
    Raises NotFound for an unknown name."""
    now = svc.clock.now()
    links: dict[str, str] = {}
    with svc.uow() as uow:
        for name in names:
            operator = uow.operators.by_name(name)
            if operator is None:
                raise NotFound(f"no operator named '{name}'")
            token = issue(uow, operator, LinkPurpose.DEMO, actor=DEMO_ACTOR, now=now)
            links[name] = link_url(svc, token)
        uow.commit()
    return links
