"""A policy with the privileged actions beyond a reset (reissue, reproof,
refuse) and the help-desk steps of a privileged reissue, for the reissue tests
on both backends and against LemonLDAP::NG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recoveries import PASSWORD

from conftest import World, make_world
from custos.domain.model import Role
from custos.service.recovery import cases, credentials

INSTRUCTIONS = "Call the security desk on +49 30 1234 5678 (ticket queue SEC-ADMIN)."

#: ``admins`` (privileged): a reissue after two factors and two approvers.
#: ``vault`` (group vault): re-proofing first, then a reset link.
#: ``break-glass`` (group break-glass): refused, with whom to contact.
POLICY = f"""\
version: 1
risk_bands: {{low: [0, 39], medium: [40, 69], high: [70, 100]}}
tiers:
  - name: break-glass
    match: {{groups: [break-glass]}}
    action: refuse
    instructions: "{INSTRUCTIONS}"
  - name: admins
    match: {{privileged: true}}
    risk_analysis: RA-TEST-1
    channels: [helpdesk]
    proofing: {{factors: 2, methods: [totp, recovery_code, email_code]}}
    approvals: {{count: 2}}
    action: reissue
    token_ttl: 10m
    post_checks: [read_back, sessions_revoked]
  - name: vault
    match: {{groups: [vault]}}
    risk_analysis: RA-TEST-1
    channels: [self_service, helpdesk]
    proofing: {{factors: 1, methods: [email_code, totp, reproofing]}}
    action: reproof
    token_ttl: 15m
    post_checks: [read_back]
  - name: standard
    match: {{}}
    risk_analysis: RA-TEST-1
    channels: [self_service, helpdesk]
    proofing: {{factors: 1, methods: [totp, email_code]}}
    action: reset_token
    token_ttl: 15m
    post_checks: [read_back]
"""


def reissue_world(database_url: str, tmp_path: Path, **settings: Any) -> World:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    return make_world(database_url, tmp_path, policy_file=policy, **settings)


def helpdesk_reissue(world: World, subject_id: str) -> str:
    """An agent opens the case, the caller gives a TOTP code and the email code,
    two approvers approve, an executor executes, the subject sets a password
    through the link. Returns the case id (propagation: ``world.drain()``)."""
    for name, role in (
        ("hana", Role.REQUESTER),
        ("linus", Role.APPROVER),
        ("grace", Role.APPROVER),
        ("edsger", Role.EXECUTOR),
    ):
        if name not in world.operators:
            world.operator(name, role)
    ops = world.operators
    case = cases.open_helpdesk_case(
        world.svc, ops["hana"], subject_id=subject_id, reason="admin lost every factor"
    )
    cases.add_proof(
        world.svc, ops["hana"], case.id, method="totp", response=world.totp_now(subject_id)
    )
    cases.send_email_code(world.svc, ops["hana"], case.id)
    cases.add_proof(
        world.svc, ops["hana"], case.id, method="email_code", response=world.last_code(subject_id)
    )
    cases.approve(world.svc, ops["linus"], case.id, reason="caller verified")
    cases.approve(world.svc, ops["grace"], case.id, reason="caller verified")
    cases.execute(world.svc, ops["edsger"], case.id)
    credentials.redeem(world.svc, token=world.last_link_token(subject_id), new_password=PASSWORD)
    return case.id
