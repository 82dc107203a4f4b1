"""A campaign reaches a SCIM 2.0 directory too (a real SCIM server beside
slapd and the built-in directory), on SQLite and PostgreSQL: force-reset
changes the SCIM password of every member and the report names the SCIM
system for each."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from campaign_world import CampaignWorld, campaign_world
from servers.scim import ScimServer, scim_target, strong_password
from servers.slapd import SlapdServer

from conftest import pg_database
from custos.service.campaigns import report


@pytest.fixture(params=["sqlite", "postgres"])
def scim_cw(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    slapd_server: SlapdServer,
    scim_server: ScimServer,
) -> Iterator[CampaignWorld]:
    extra = {"scim": scim_target(scim_server)}
    if request.param == "sqlite":
        made = campaign_world(
            f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, slapd_server, extra_targets=extra
        )
        yield made
        made.world.svc.engine.dispose()
        return
    with pg_database() as url:
        made = campaign_world(url, tmp_path, slapd_server, extra_targets=extra)
        try:
            yield made
        finally:
            made.world.svc.engine.dispose()


def test_campaign_force_reset_reaches_scim_accounts(
    scim_cw: CampaignWorld, scim_server: ScimServer
) -> None:
    members = scim_cw.members(3)
    old: dict[str, str] = {}
    for uid in members:
        old[uid] = strong_password()
        scim_server.create_user(f"scim-{uid}", old[uid])
        scim_cw.link(uid, "scim", f"scim-{uid}")
    campaign = scim_cw.approved()
    scim_cw.world.drain(passes=60)
    data = report.campaign_report(scim_cw.world.svc, scim_cw.starter, campaign.id)
    for item in data["subjects"]:
        assert item["case_state"] == "completed", item
        assert sorted((r["target"], r["state"]) for r in item["systems"]) == [
            ("directory", "succeeded"),
            ("ldap", "succeeded"),
            ("scim", "succeeded"),
        ]
    for uid in members:
        assert not scim_server.can_login(f"scim-{uid}", old[uid])
