"""An incident campaign is not operator anomaly: its cases carry copies of the
campaign's two approvals and its starter's opening (so every case shows who
decided), but those copies are one decision each, governed by the campaign's
own two-person rule (R-32), not dozens of approvals in a row. Counted as
operator actions they raised 450 alerts in a 5,000-subject bench run
(volume, approval streak, fast approval); false positives count as failures."""

from __future__ import annotations

from pathlib import Path

import pytest
from campaign_world import campaign_world
from oversight_world import SIGNAL_THRESHOLDS
from servers.slapd import SlapdServer

from conftest import pg_database
from custos.domain.campaigns import CampaignState
from custos.service.campaigns import queries
from custos.service.oversight.anomalies import open_alerts, raise_alerts


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_campaigns_cases_raise_no_anomaly_for_its_starter_or_approvers(
    backend: str, tmp_path: Path, slapd_server: SlapdServer
) -> None:
    """R-36: eight cases opened and approved by a campaign, under thresholds
    that five approvals in a row or four openings would cross, raise nothing."""

    def run(url: str) -> None:
        cw = campaign_world(url, tmp_path, slapd_server, anomalies=SIGNAL_THRESHOLDS)
        cw.members(8)
        campaign = cw.approved()
        cw.world.drain(passes=60)
        progress = queries.progress(cw.world.svc, cw.starter, campaign.id)
        assert progress.campaign.state == CampaignState.FINISHED
        assert progress.completed == 8
        assert raise_alerts(cw.world.svc) == []
        assert open_alerts(cw.world.svc) == []
        cw.world.svc.engine.dispose()

    if backend == "sqlite":
        run(f"sqlite:///{tmp_path / 'custos.db'}")
    else:
        with pg_database() as url:
            run(url)
