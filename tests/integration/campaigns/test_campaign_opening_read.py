"""The lean read a campaign batch opens its cases from
(``CampaignRepository.opening_subjects``: each subject's row and linked
accounts in one statement, no contacts, no holds) against the full
``SubjectRepository.get_many`` it replaces, on SQLite and PostgreSQL with a
real slapd: the same subjects but for what an opening never reads, and a batch
opened through it records exactly the ledger events, case states and receipts
that opening the same members from the full subjects would (R-34); and a
reissue batch (``reissue_in_custos_many``) does what the one-subject
``reissue_in_custos`` does on twin subjects."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from campaign_world import (  # the fixture ``cw``
    GROUP,
    CampaignWorld,
    campaign_world_on_each_backend,  # noqa: F401
)
from sqlalchemy import func, select

from custos.domain.campaigns import MemberState
from custos.domain.events import EventType
from custos.domain.model import LinkedAccount
from custos.domain.states import CaseState
from custos.service.campaigns import execution
from custos.service.recovery import reissue
from custos.service.recovery.redemption import start_propagation
from custos.store.tables import (
    campaign_members,
    cases,
    ledger,
    linked_accounts,
    pending_totp,
    recovery_codes,
    totp_enrolments,
)


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
            accounts = start_propagation(expected.case, full[uid], now=now)
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
            assert got == sorted(accounts)
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


def _reissue_members(cw: CampaignWorld, group: str, tag: str) -> list[str]:
    """Five subjects of ``group``, alike for every ``tag``: TOTP and saved
    codes; TOTP only with a live TOTP ceremony; nothing bound; the R-45 flag
    already set; no linked account at all."""
    made = []
    for i, (totp, codes) in enumerate([(True, 3), (True, 0), (False, 0), (False, 0), (False, 0)]):
        uid = f"{tag}{i}"
        cw.world.subject(uid, groups=(group, "staff"), with_totp=totp, codes=codes)
        made.append(uid)
    now = cw.world.clock.now()
    with cw.world.svc.uow() as uow:
        uow.conn.execute(
            pending_totp.insert().values(
                subject_id=made[1],
                session_id=1,
                sealed_secret=b"x",
                created_at=now,
                expires_at=now + timedelta(minutes=10),
            )
        )
        uow.subjects.set_bind_due(made[3], True)
        uow.commit()
    _without_accounts(cw, made[4])
    return made


def _effects(uow: Any, uid: str) -> tuple[Any, ...]:
    """What a reissue leaves in Custos of a subject: its authenticators'
    states, saved codes left unused, TOTP enrolments, live ceremonies, flag."""
    c = uow.conn
    return (
        sorted(
            (str(a.kind), a.revoked_at is not None, a.revoked_reason)
            for a in uow.authenticators.history(uid)
        ),
        c.execute(
            select(func.count()).where(
                recovery_codes.c.subject_id == uid, recovery_codes.c.used_at.is_(None)
            )
        ).scalar_one(),
        c.execute(select(func.count()).where(totp_enrolments.c.subject_id == uid)).scalar_one(),
        c.execute(
            select(func.count()).where(
                pending_totp.c.subject_id == uid, pending_totp.c.used_at.is_(None)
            )
        ).scalar_one(),
        uow.subjects.get(uid).phishing_resistant_bind_due,
        [
            (e["type"], e["data"])
            for e in uow.ledger.about_subjects(
                [EventType.BIND_REQUIRED], [uid], since=datetime(2000, 1, 1, tzinfo=UTC)
            )
        ],
    )


def test_reissue_batch_does_what_the_one_subject_path_does(cw: CampaignWorld) -> None:
    """A reissue campaign's batch (``reissue_in_custos_many``) against the
    one-subject path (``_open_one``, ``reissue_in_custos``,
    ``start_propagation``, as the batch did before) on twin subjects: the same
    case events fact for fact (authenticators removed with their kinds,
    ceremonies voided, locks, executing or needs_attention), the same
    authenticators revoked, codes and TOTP secrets deleted, ceremonies spent,
    R-45 flags set and bind_required events (none where the flag was set
    already) (R-36, R-45)."""
    batch = _reissue_members(cw, GROUP, "rb")
    twins = _reissue_members(cw, "incident-8", "ro")
    campaign = cw.approved("reissue")
    svc = cw.world.svc
    assert execution.open_batch(svc, campaign.id) == 5
    now = svc.clock.now()
    with svc.uow() as uow:
        opened = dict(
            uow.conn.execute(
                select(campaign_members.c.subject_id, campaign_members.c.case_id).where(
                    campaign_members.c.campaign_id == campaign.id
                )
            ).all()
        )
        shared = execution._Shared.of(svc, uow.campaigns.get(campaign.id))
        full = uow.subjects.get_many(twins)
        bind = str(EventType.BIND_REQUIRED)
        for uid, twin in zip(batch, twins, strict=True):
            one = execution._open_one(svc, uow, shared, full[twin], now).case
            reissue.reissue_in_custos(uow, case=one, subject=full[twin], now=now)
            start_propagation(one, full[twin], now=now)
            stored = uow.cases.get(opened[uid])
            assert stored.state == one.state
            on_case = [  # bind_required is the subject's, compared below
                f for f in _facts(uow.ledger.for_case(opened[uid])) if f[0] != bind
            ]
            assert on_case == [
                (str(e.type), e.actor, e.reason, str(e.outcome), e.data) for e in one.pending_events
            ]
            assert _effects(uow, uid) == _effects(uow, twin)
        # The twins' changes were only for comparing: rolled back.
        # Not vacuous: what was there went, on the batch's side too.
        removed = {
            uid: next(
                f[4]
                for f in _facts(uow.ledger.for_case(opened[uid]))
                if f[0] == str(EventType.AUTHENTICATORS_REMOVED)
            )
            for uid in batch
        }
        assert removed[batch[0]]["removed"] == 2 and removed[batch[0]]["left"] == 0
        assert removed[batch[1]]["ceremonies_voided"] == 1
        assert removed[batch[2]] == {"removed": 0, "kinds": [], "ceremonies_voided": 0, "left": 0}
        binds = {uid: len(_effects(uow, uid)[-1]) for uid in batch}
        assert binds == {batch[0]: 1, batch[1]: 1, batch[2]: 1, batch[3]: 0, batch[4]: 1}
        assert uow.cases.get(opened[batch[4]]).state == CaseState.NEEDS_ATTENTION
