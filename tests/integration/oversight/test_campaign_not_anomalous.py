"""An incident campaign is not operator anomaly: its cases carry copies of the
campaign's two approvals and its starter's opening (so every case shows who
decided), but those copies are one decision each, governed by the campaign's
own two-person rule (R-32), not dozens of approvals in a row. Counted as
operator actions they raised 450 alerts in a 5,000-subject bench run
(volume, approval streak, fast approval); false positives count as failures."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from campaign_world import campaign_world
from oversight_world import SIGNAL_THRESHOLDS
from servers.slapd import SlapdServer

from conftest import pg_database
from custos.domain.campaigns import CampaignState
from custos.service.campaigns import queries
from custos.service.campaigns.execution import open_batch
from custos.service.oversight.anomalies import AnomalyPass, open_alerts, raise_alerts
from custos.service.recovery import cases


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


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_campaigns_batches_do_not_make_the_scheduled_pass_run_the_detection(
    backend: str, tmp_path: Path, slapd_server: SlapdServer
) -> None:
    """R-36 (the worker's schedule): a batch of campaign cases appends only
    entries the detection leaves out (the system's, and the copies of the
    campaign's start and approvals), so the next pass does not run the
    detection again (each batch of a 5,000-subject campaign used to re-read
    every copy so far); an operator's own case entry does make it run."""

    def run(url: str) -> None:
        cw = campaign_world(url, tmp_path, slapd_server, anomalies=SIGNAL_THRESHOLDS)
        svc, clock = cw.world.svc, cw.world.clock
        cw.members(8)
        campaign = cw.approved()
        schedule = AnomalyPass()
        assert schedule.run_if_due(svc) == 0
        ran = schedule.last_run
        assert ran == clock.now()

        clock.advance(timedelta(minutes=1))
        assert open_batch(svc, campaign.id) == 5
        assert schedule.run_if_due(svc) == 0
        assert schedule.last_run == ran  # not run: nothing it reads is new

        cw.world.subject("walk-in", groups=("staff",))
        cases.open_helpdesk_case(svc, cw.starter, subject_id="walk-in", reason="locked out")
        clock.advance(timedelta(minutes=1))
        assert schedule.run_if_due(svc) == 0
        assert schedule.last_run == clock.now()  # run: an operator opened a case
        assert open_alerts(svc) == []
        svc.engine.dispose()

    if backend == "sqlite":
        run(f"sqlite:///{tmp_path / 'custos.db'}")
    else:
        with pg_database() as url:
            run(url)
