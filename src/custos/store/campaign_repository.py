"""Incident campaigns and their members (docs/campaigns.md). The members table
is the campaign's work queue: a batch is claimed (``FOR UPDATE SKIP LOCKED``
on PostgreSQL) and its rows leave ``pending`` in the transaction that opens
their cases, so each subject gets exactly one case however workers die."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select

from custos.domain.campaigns import (
    Campaign,
    CampaignAction,
    CampaignApproval,
    CampaignState,
    MemberState,
)
from custos.domain.errors import NotFound
from custos.domain.model import LinkedAccount, Subject
from custos.store.bulk import chunks
from custos.store.bulk_update import update_many
from custos.store.identity_repository import SUBJECT_COLUMNS
from custos.store.mapping import subject_from_row
from custos.store.tables import campaign_members, campaigns, cases, linked_accounts, subjects

#: A batch's subjects with their linked accounts, in one statement built once
#: (one row per linked account, one with NULL target for a subject without any).
_OPENING = (
    select(
        *SUBJECT_COLUMNS,
        linked_accounts.c.target.label("linked_target"),
        linked_accounts.c.account_id.label("linked_account"),
    )
    .select_from(subjects.outerjoin(linked_accounts, linked_accounts.c.subject_id == subjects.c.id))
    .where(subjects.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(subjects.c.id, linked_accounts.c.target, linked_accounts.c.account_id)
)


def _to_row(c: Campaign) -> dict[str, Any]:
    return {
        "id": c.id,
        "group_name": c.group,
        "action": str(c.action),
        "reason": c.reason,
        "ticket": c.ticket,
        "state": str(c.state),
        "started_by": c.started_by,
        "started_by_person": c.started_by_person,
        "started_at": c.started_at,
        "updated_at": c.updated_at,
        "finished_at": c.finished_at,
        "required_approvals": c.required_approvals,
        "approver_groups": sorted(c.approver_groups),
        "approvals": [
            {
                "operator_id": a.operator_id,
                "person": a.person,
                "at": a.at.isoformat(),
                "reason": a.reason,
            }
            for a in c.approvals
        ],
    }


def _from_row(row: Any) -> Campaign:
    return Campaign(
        id=row.id,
        group=row.group_name,
        action=CampaignAction(row.action),
        reason=row.reason,
        ticket=row.ticket,
        state=CampaignState(row.state),
        started_by=row.started_by,
        started_by_person=row.started_by_person,
        started_at=row.started_at,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
        required_approvals=row.required_approvals,
        approver_groups=frozenset(row.approver_groups),
        approvals=[
            CampaignApproval(
                a["operator_id"], a["person"], datetime.fromisoformat(a["at"]), a["reason"]
            )
            for a in row.approvals
        ],
    )


class CampaignRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, campaign: Campaign, subject_ids: Iterable[str]) -> int:
        """Store a new campaign and its members (in the given order); returns
        how many members."""
        self._conn.execute(campaigns.insert().values(**_to_row(campaign)))
        rows = [
            {
                "campaign_id": campaign.id,
                "subject_id": s,
                "position": i,
                "state": str(MemberState.PENDING),
            }
            for i, s in enumerate(subject_ids)
        ]
        if rows:
            self._conn.execute(campaign_members.insert(), rows)
        return len(rows)

    def get(self, campaign_id: str, *, for_update: bool = False) -> Campaign:
        """One campaign; ``for_update`` locks its row on PostgreSQL. Raises NotFound."""
        query = select(campaigns).where(campaigns.c.id == campaign_id)
        if for_update:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        if row is None:
            raise NotFound(f"no campaign '{campaign_id[:80]}'", campaign=campaign_id[:80])
        return _from_row(row)

    def save(self, campaign: Campaign) -> None:
        values = _to_row(campaign)
        del values["id"]
        self._conn.execute(campaigns.update().where(campaigns.c.id == campaign.id).values(**values))

    def all(self) -> list[Campaign]:
        rows = self._conn.execute(select(campaigns).order_by(campaigns.c.started_at.desc()))
        return [_from_row(r) for r in rows]

    def ids_in_state(self, state: CampaignState) -> list[str]:
        query = select(campaigns.c.id).where(campaigns.c.state == str(state))
        return list(self._conn.execute(query.order_by(campaigns.c.started_at)).scalars())

    def claim_pending(self, campaign_id: str, *, limit: int, skip_locked: bool) -> list[str]:
        """The next ``limit`` pending members (subject ids, in order), their rows
        locked until this transaction ends (others skip them on PostgreSQL)."""
        query = (
            select(campaign_members.c.subject_id)
            .where(
                campaign_members.c.campaign_id == campaign_id,
                campaign_members.c.state == str(MemberState.PENDING),
            )
            .order_by(campaign_members.c.position)
            .limit(limit)
        )
        if skip_locked:
            query = query.with_for_update(skip_locked=True)
        return list(self._conn.execute(query).scalars())

    def opening_subjects(self, subject_ids: Iterable[str]) -> dict[str, Subject]:
        """The subjects of a batch as opening their campaign cases reads them:
        each row with its linked accounts (as ``SubjectRepository.get_many``
        spells them) in one query per 500 ids, WITHOUT contacts or holds (left
        empty: an opening notifies nobody and a campaign contains whatever
        holds stand: no hold changes what it does). Not for anything that
        reads either."""
        found: dict[str, Subject] = {}
        for chunk in chunks(subject_ids):
            row: Any = None
            accounts: list[LinkedAccount] = []
            for r in self._conn.execute(_OPENING, {"ids": chunk}):
                if row is not None and r.id != row.id:
                    found[row.id] = subject_from_row(row, accounts)
                    accounts = []
                row = r
                if r.linked_target is not None:
                    accounts.append(
                        LinkedAccount(target=r.linked_target, account_id=r.linked_account)
                    )
            if row is not None:
                found[row.id] = subject_from_row(row, accounts)
        return found

    def mark_opened_many(self, campaign_id: str, opened: dict[str, str], *, now: datetime) -> int:
        """``mark_opened`` for many members (subject id -> case id) in one
        ``executemany`` of a statement compiled once (``update_many``), each
        row matched while still pending; returns how many were (-1: the driver
        cannot tell)."""
        pending, into = str(MemberState.PENDING), str(MemberState.OPENED)
        return update_many(
            self._conn,
            campaign_members,
            [
                (
                    (campaign_id, subject_id, pending),
                    {"state": into, "case_id": c, "opened_at": now},
                )
                for subject_id, c in opened.items()
            ],
            where=("campaign_id", "subject_id", "state"),
        )

    def skip_pending(self, campaign_id: str) -> int:
        """Every pending member skipped (a cancelled campaign); returns how many."""
        result = self._conn.execute(
            campaign_members.update()
            .where(
                campaign_members.c.campaign_id == campaign_id,
                campaign_members.c.state == str(MemberState.PENDING),
            )
            .values(state=str(MemberState.SKIPPED))
        )
        return result.rowcount

    def counts(self, campaign_id: str) -> dict[str, int]:
        """Members per state (pending, opened, skipped)."""
        query = (
            select(campaign_members.c.state, func.count())
            .where(campaign_members.c.campaign_id == campaign_id)
            .group_by(campaign_members.c.state)
        )
        found: dict[str, int] = {str(s): 0 for s in MemberState}
        found.update({state: count for state, count in self._conn.execute(query).all()})
        return found

    def members(self, campaign_id: str) -> list[tuple[str, str, str | None]]:
        """(subject id, member state, case id) of every member, in order."""
        query = (
            select(
                campaign_members.c.subject_id, campaign_members.c.state, campaign_members.c.case_id
            )
            .where(campaign_members.c.campaign_id == campaign_id)
            .order_by(campaign_members.c.position)
        )
        return [(s, st, c) for s, st, c in self._conn.execute(query).all()]

    def case_states(self, campaign_id: str) -> dict[str, str]:
        """The state of each member's case (subject id -> case state); members
        without a case yet are absent."""
        query = (
            select(campaign_members.c.subject_id, cases.c.state)
            .join(cases, cases.c.id == campaign_members.c.case_id)
            .where(campaign_members.c.campaign_id == campaign_id)
        )
        return {s: st for s, st in self._conn.execute(query).all()}

    def unsettled(self, campaign_id: str, settled: Iterable[str]) -> int:
        """How many members have no case yet (pending) or a case in none of the
        ``settled`` states; skipped members count as settled."""
        waiting = select(func.count()).where(
            campaign_members.c.campaign_id == campaign_id,
            campaign_members.c.state == str(MemberState.PENDING),
        )
        moving = (
            select(func.count())
            .select_from(campaign_members.join(cases, cases.c.id == campaign_members.c.case_id))
            .where(
                campaign_members.c.campaign_id == campaign_id,
                cases.c.state.not_in(list(settled)),
            )
        )
        return int(self._conn.execute(waiting).scalar_one()) + int(
            self._conn.execute(moving).scalar_one()
        )
