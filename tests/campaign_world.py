"""Worlds for incident campaign tests: Custos with the built-in directory and a
real slapd as ``ldap``, subjects in one group with an account on each, the
operators a campaign needs (a starter, two security approvers), and the
policy's campaign batch made small so a campaign takes several batches."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from servers.slapd import SlapdServer, strong_password

from conftest import World, make_world, pg_database
from custos.domain.campaigns import Campaign
from custos.domain.model import Operator, Role
from custos.policy.loader import DEFAULT_POLICY_PATH
from custos.service.campaigns import commands
from custos.store.tables import linked_accounts

GROUP = "incident-7"


def campaign_policy(folder: Path, *, batch: int, anomalies: dict[str, Any] | None = None) -> Path:
    """The shipped policy without its privileged tier (it needs a target that
    ends sessions) and with campaigns opened ``batch`` subjects at a time
    (and, given ``anomalies``, those oversight thresholds)."""
    policy = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    if anomalies is not None:
        policy["oversight"] = {"anomalies": dict(anomalies)}
    policy["tiers"] = [t for t in policy["tiers"] if t["name"] != "privileged"]
    policy["campaigns"] = {
        "approvals": {"count": 2, "from_groups": ["security-approvers"]},
        "batch": batch,
    }
    path = folder / "campaign-policy.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class CampaignWorld:
    world: World
    slapd: SlapdServer
    #: subject id -> the password its slapd account had before the campaign.
    old_passwords: dict[str, str] = field(default_factory=dict)

    @property
    def starter(self) -> Operator:
        return self.world.operators["starter"]

    def approver(self, name: str) -> Operator:
        return self.world.operators[name]

    def members(self, count: int, *, group: str = GROUP) -> list[str]:
        """``count`` subjects of ``group``, each with an account in the built-in
        directory and one on slapd."""
        made = []
        for i in range(count):
            uid = f"m{i:03d}-{secrets.token_hex(3)}"
            self.world.subject(uid, groups=(group, "staff"))
            password = strong_password()
            self.slapd.add_user(uid, password)
            self.old_passwords[uid] = password
            with self.world.svc.uow() as uow:
                uow.conn.execute(
                    linked_accounts.insert().values(target="ldap", account_id=uid, subject_id=uid)
                )
                uow.commit()
            made.append(uid)
        return sorted(made)

    def started(self, action: str = "force-reset", *, group: str = GROUP) -> Campaign:
        campaign, _ = commands.start(
            self.world.svc,
            self.starter,
            group=group,
            action=action,
            reason="credentials phished in incident 7",
            ticket="INC-7",
        )
        return campaign

    def approved(self, action: str = "force-reset") -> Campaign:
        campaign = self.started(action)
        commands.approve(self.world.svc, self.approver("alice"), campaign.id, reason="contain")
        return commands.approve(self.world.svc, self.approver("bob"), campaign.id, reason="agree")

    def link(self, uid: str, target: str, account_id: str) -> None:
        """Give subject ``uid`` one more linked account."""
        with self.world.svc.uow() as uow:
            uow.conn.execute(
                linked_accounts.insert().values(
                    target=target, account_id=account_id, subject_id=uid
                )
            )
            uow.commit()

    def slapd_dn(self, uid: str) -> str:
        return f"uid={uid},{self.slapd.people_base}"


def campaign_world(
    database_url: str,
    tmp_path: Path,
    slapd: SlapdServer,
    *,
    batch: int = 5,
    extra_targets: dict[str, Any] | None = None,
    anomalies: dict[str, Any] | None = None,
    **settings: Any,
) -> CampaignWorld:
    targets: dict[str, Any] = {"directory": {"kind": "builtin"}, "ldap": slapd.target()}
    targets.update(extra_targets or {})
    world = make_world(
        database_url,
        tmp_path,
        policy_file=campaign_policy(tmp_path, batch=batch, anomalies=anomalies),
        targets=targets,
        **settings,
    )
    world.operator("starter", Role.REQUESTER, Role.APPROVER, groups=("security-approvers",))
    world.operator("alice", Role.APPROVER, groups=("security-approvers",))
    world.operator("bob", Role.APPROVER, groups=("security-approvers",))
    world.operator("carol", Role.APPROVER)  # not a security approver
    return CampaignWorld(world=world, slapd=slapd)


@pytest.fixture(name="cw", params=["sqlite", "postgres"])
def campaign_world_on_each_backend(
    request: pytest.FixtureRequest, tmp_path: Path, slapd_server: SlapdServer
) -> Iterator[CampaignWorld]:
    """A campaign world on SQLite and, in a second run, on PostgreSQL."""
    if request.param == "sqlite":
        made = campaign_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, slapd_server)
        yield made
        made.world.svc.engine.dispose()
        return
    with pg_database() as url:
        made = campaign_world(url, tmp_path, slapd_server)
        try:
            yield made
        finally:
            made.world.svc.engine.dispose()
