"""The lean read a campaign batch opens its cases from
(``CampaignRepository.opening_subjects``: each subject's row and linked
accounts in one statement, no contacts, no holds) against the full
``SubjectRepository.get_many`` it replaces, on SQLite and PostgreSQL with a
real slapd: the same subjects but for what an opening never reads, and a batch
opened through it records exactly the ledger events, case states and receipts
that opening the same members from the full subjects would (R-34)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from campaign_world import (  # the fixture ``cw``
    CampaignWorld,
    campaign_world_on_each_backend,  # noqa: F401
)
from sqlalchemy import select

from custos.domain.campaigns import MemberState
from custos.domain.model import LinkedAccount
from custos.service.campaigns import execution
from custos.store.tables import campaign_members, cases, ledger, linked_accounts


def _without_accounts(cw: CampaignWorld, uid: str) -> None:
    with cw.world.svc.uow() as uow:
        uow.conn.execute(linked_accounts.delete().where(linked_accounts.c.subject_id == uid))
        uow.commit()


def test_opening_subjects_match_get_many_but_contacts_and_holds(cw: CampaignWorld) -> None:
    """Same rows and accounts (in get_many's order), several accounts or none,
    privileged or not; an unknown id is absent, as from get_many."""
    members = cw.members(4)
    cw.link(members[0], "directory", f"{members[0]}-b")
    cw.link(members[0], "directory", f"{members[0]}-a")
    _without_accounts(cw, members[1])
    boss = cw.world.subject("boss-1", privileged=True, groups=("incident-7", "staff"))
    ids = [*members, boss.id, "nobody"]
    with cw.world.svc.uow(read_only=True) as uow:
        full = uow.subjects.get_many(ids)
        lean = uow.campaigns.opening_subjects(ids)
    assert set(lean) == set(full) == {*members, boss.id}
    for uid, subject in full.items():
        assert subject.contacts  # the world gives each a confirmed email
        assert lean[uid] == replace(subject, contacts=(), holds=frozenset())
    assert lean[members[1]].accounts == ()
    assert lean[members[0]].accounts == (
        LinkedAccount("directory", members[0]),
        LinkedAccount("directory", f"{members[0]}-a"),
        LinkedAccount("directory", f"{members[0]}-b"),
        LinkedAccount("ldap", members[0]),
    )
    assert lean[boss.id].privileged


def _facts(entries: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """A case's ledger entries without their ids, case id and position."""
    return [(e["type"], e["actor"], e["reason"], e["outcome"], e["data"]) for e in entries]


def test_batch_opened_from_lean_read_records_what_full_subjects_would(
    cw: CampaignWorld,
) -> None:
    """For every member of a batch (one without a linked account, one with
    three): one case, its ledger events (opened, tier, proofing, two
    approvals, approved, credential issued, executing, and needs_attention
    without an account) equal, fact for fact, to those ``_open_one`` builds
    from the full subject at the same instant; same state, expiry and
    receipts; the members marked opened with that case."""
    members = cw.members(4)
    cw.link(members[0], "directory", f"{members[0]}-x")
    _without_accounts(cw, members[2])
    campaign = cw.approved()
    svc = cw.world.svc
    assert execution.open_batch(svc, campaign.id) == 4  # the world's batch is 5
    now = svc.clock.now()
    with svc.uow(read_only=True) as uow:
        opened = dict(
            uow.conn.execute(
                select(campaign_members.c.subject_id, campaign_members.c.case_id).where(
                    campaign_members.c.campaign_id == campaign.id,
                    campaign_members.c.state == str(MemberState.OPENED),
                )
            ).all()
        )
        assert sorted(opened) == members
        shared = execution._Shared.of(svc, uow.campaigns.get(campaign.id))
        full = uow.subjects.get_many(members)
        for uid, case_id in opened.items():
            expected = execution._open_one(svc, uow, shared, full[uid], now)
            stored = uow.cases.get(case_id)
            assert stored.subject_id == uid
            assert stored.state == expected.case.state
            assert stored.expires_at == expected.case.expires_at
            assert stored.requirements == expected.case.requirements
            assert stored.approvals == expected.case.approvals
            assert _facts(uow.ledger.for_case(case_id)) == [
                (str(e.type), e.actor, e.reason, str(e.outcome), e.data)
                for e in expected.case.pending_events
            ]
            got = sorted(
                (r.target, r.account_id, r.required) for r in uow.receipts.for_case(case_id)
            )
            assert got == sorted(expected.accounts)
        # One case per member, nothing else opened.
        assert sorted(
            uow.conn.execute(select(cases.c.subject_id).where(cases.c.id.in_(opened.values())))
            .scalars()
            .all()
        ) == sorted(members)
        per_case = uow.conn.execute(
            select(ledger.c.case_id).where(ledger.c.case_id.in_(opened.values()))
        ).scalars()
        counts: dict[str, int] = {}
        for case_id in per_case:
            counts[case_id] = counts.get(case_id, 0) + 1
        assert counts[opened[members[2]]] == 9  # needs_attention: no account
        assert {counts[opened[m]] for m in members if m != members[2]} == {8}
