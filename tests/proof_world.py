"""A World with a test policy that offers every proofing method, for the
re-proofing, attestation and agent-challenge tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from conftest import World, make_world, pg_database

SECURITY_ADDRESS = "soc@example.org"

#: ``strict`` (subjects in group 'strict'): AAL2, where one code is a step-up and
#: re-proofing alone recovers (R-2). ``assisted``: every method, one factor.
POLICY = """\
version: 1
risk_bands: {low: [0, 39], medium: [40, 69], high: [70, 100]}
tiers:
  - name: strict
    match: {groups: [strict]}
    aal: 2
    risk_analysis: RA-TEST-1
    channels: [self_service, helpdesk]
    proofing: {factors: 1, methods: [totp, recovery_code, email_code, reproofing]}
    action: reset_token
    token_ttl: 15m
  - name: ial3
    match: {groups: [ial3]}
    aal: 3
    risk_analysis: RA-TEST-1
    channels: [helpdesk]
    proofing: {factors: 1, methods: [reproofing], min_ial: 3}
    action: reset_token
    token_ttl: 15m
  - name: assisted
    match: {kind: human}
    risk_analysis: RA-TEST-1
    channels: [self_service, helpdesk]
    proofing:
      factors: 1
      methods: [totp, email_code, reproofing, manager_attestation, agent_challenge]
    action: reset_token
    token_ttl: 15m
"""


def proof_world(backend: str, tmp_path: Path, **settings: Any) -> Iterator[World]:
    """A World on ``backend`` running POLICY, alerts to SECURITY_ADDRESS."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    settings = {"policy_file": policy, "security_address": SECURITY_ADDRESS, **settings}
    if backend == "sqlite":
        world = make_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, **settings)
        try:
            yield world
        finally:
            world.svc.engine.dispose()
        return
    with pg_database() as url:
        world = make_world(url, tmp_path, **settings)
        try:
            yield world
        finally:
            world.svc.engine.dispose()
