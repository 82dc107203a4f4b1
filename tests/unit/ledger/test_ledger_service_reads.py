"""The ledger functions the faces call with the services (``proofs``,
``heads``, ``rotation``), run on a real store: a migrated SQLite database
(copied from the test template), the real unit of work, ledger repository and
key ring, and a manual clock. Only the ``Services`` value is reduced to the
parts these functions read (settings, clock, units of work), so that mutation
testing can run these tests in a fraction of a second each.

R-38: an entry's inclusion proof and a consistency proof between two sizes are
against signed heads, and check out against the in-memory RFC 9162 tree; only
admins and auditors read them, an entry about a subject only within the
reader's scope. R-36: a ledger key rotation is itself a ledger event carrying
only public key ids."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import db_templates
import pytest
from sqlalchemy import Engine, select

from custos.clock import ManualClock
from custos.config import Settings, load_settings
from custos.domain.errors import InvalidInput, NotAuthorized, NotFound
from custos.domain.events import DomainEvent, EventType, utc
from custos.domain.model import (
    Case,
    Channel,
    CredentialAction,
    Operator,
    Requirements,
    RiskAssessment,
    Role,
    Subject,
    expiry_for,
)
from custos.domain.states import CaseState
from custos.ledger import merkle, witness
from custos.ledger.heads import (
    key_ring,
    latest_head,
    sign_tree_head,
    sign_tree_head_if_due,
    stored_heads,
)
from custos.ledger.proofs import (
    NoSignedHead,
    NotCovered,
    check_entry_proof,
    consistency,
    entry_with_proof,
    latest_signed_head,
    readable_by,
    require_ledger_reader,
)
from custos.ledger.rotation import rotate_ledger_key
from custos.ledger.signing import NoLedgerKey, TreeHead, sign_head, verify_head
from custos.service.ports import Services
from custos.store.database import make_engine
from custos.store.tables import ledger, tree_heads
from custos.store.unit_of_work import UnitOfWork

T0 = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)


@dataclass
class LedgerServices:
    """What ``proofs``, ``heads`` and ``rotation`` read of ``Services``."""

    settings: Settings
    engine: Engine
    clock: ManualClock

    def uow(self, *, read_only: bool = False) -> UnitOfWork:
        return UnitOfWork(self.engine, read_only=read_only, clock=self.clock)

    @property
    def services(self) -> Services:
        """This stand-in where the ledger functions take ``Services``: they read
        only its ``settings``, ``clock`` and ``uow``, which it has with the same
        types (an attribute they started to read would fail these tests)."""
        return cast(Services, self)


def _services(tmp_path: Path, **settings: Any) -> Iterator[LedgerServices]:
    database = tmp_path / "custos.db"
    db_templates.copy_sqlite_template(database)
    engine = make_engine(f"sqlite:///{database}")
    config = load_settings(
        None, data_dir=tmp_path, database_url=f"sqlite:///{database}", **settings
    )
    try:
        yield LedgerServices(config, engine, ManualClock(T0))
    finally:
        engine.dispose()


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[LedgerServices]:
    yield from _services(tmp_path, ledger_witness_file=tmp_path / "witness" / "heads.jsonl")


def _event(
    n: int, *, subject: str | None = None, case: str | None = None, at: datetime = T0
) -> DomainEvent:
    return DomainEvent(
        type=EventType.LEDGER_KEY_ROTATED,
        occurred_at=at,
        actor="cli:local",
        subject_id=subject,
        case_id=case,
        data={"n": n},
    )


def _append(svc: LedgerServices, *events: DomainEvent) -> None:
    with svc.uow() as uow:
        uow.ledger.append(events)
        uow.commit()


def _fill(svc: LedgerServices, count: int) -> None:
    _append(svc, *(_event(n) for n in range(count)))


def _entries(svc: LedgerServices) -> list[bytes]:
    with svc.uow() as uow:
        rows = uow.conn.execute(select(ledger.c.canonical).order_by(ledger.c.seq))
        return [str(r.canonical).encode("utf-8") for r in rows]


def _reference(svc: LedgerServices) -> merkle.MemoryTree:
    return merkle.MemoryTree(merkle.leaf_hash(e) for e in _entries(svc))


def _operator(*roles: Role, scope: tuple[str, ...] = ("staff",)) -> Operator:
    return Operator(id="op", name="Op", person="op", roles=frozenset(roles), scope=frozenset(scope))


ADMIN = _operator(Role.ADMIN, scope=("*",))
STAFF_AUDITOR = _operator(Role.AUDITOR, scope=("staff",))


# --- signing heads (heads.sign_tree_head, sign_tree_head_if_due) -----------------


def test_sign_tree_head_signs_stores_and_publishes_the_current_tree(
    svc: LedgerServices,
) -> None:
    """R-38: the head names the current size and root, is signed by the active
    key at the clock's time, is stored and reaches the witness file."""
    rotate_ledger_key(svc.services)  # one ledger entry
    _fill(svc, 4)
    svc.clock.advance(timedelta(minutes=3))
    head = sign_tree_head(svc.services)
    key = key_ring(svc.services).active()
    assert head.tree_size == 5
    assert head.root_hash == _reference(svc).root(5).hex()
    assert head.signed_at == utc(svc.clock.now())
    assert head.key_id == key.key_id
    assert verify_head(head, key.public)
    with svc.uow() as uow:
        assert stored_heads(uow.conn) == [head]
    assert svc.settings.ledger_witness_file is not None
    assert witness.read_file(svc.settings.ledger_witness_file) == ([head], [])


def test_sign_tree_head_without_a_key_stores_nothing(svc: LedgerServices) -> None:
    _fill(svc, 2)
    with pytest.raises(NoLedgerKey):
        sign_tree_head(svc.services)
    with svc.uow() as uow:
        assert stored_heads(uow.conn) == []


def test_a_head_is_due_when_the_tree_grew_and_the_interval_passed(
    svc: LedgerServices,
) -> None:
    """The worker's schedule: nothing on an empty tree, a head as soon as there
    are entries, none while the tree keeps its size, and after growth only once
    ``ledger_head_interval_s`` (300 s by default) has passed, to the microsecond."""
    assert svc.settings.ledger_head_interval_s == 300
    key_ring(svc.services).generate(T0)  # a key, but no entry yet
    assert sign_tree_head_if_due(svc.services) == 0
    _fill(svc, 1)
    assert sign_tree_head_if_due(svc.services) == 1
    with svc.uow() as uow:
        first = latest_head(uow.conn)
    assert first is not None and first.tree_size == 1
    svc.clock.advance(timedelta(hours=1))
    assert sign_tree_head_if_due(svc.services) == 0  # the tree did not grow
    _fill(svc, 2)
    assert sign_tree_head_if_due(svc.services) == 1
    with svc.uow() as uow:
        second = latest_head(uow.conn)
    assert second is not None and second.tree_size == 3
    _fill(svc, 1)
    svc.clock.advance(timedelta(seconds=300) - timedelta(microseconds=1))
    assert sign_tree_head_if_due(svc.services) == 0
    svc.clock.advance(timedelta(microseconds=1))
    assert sign_tree_head_if_due(svc.services) == 1
    with svc.uow() as uow:
        assert [h.tree_size for h in stored_heads(uow.conn)] == [1, 3, 4]


def test_the_head_interval_is_the_configured_one(tmp_path: Path) -> None:
    for svc in _services(tmp_path, ledger_head_interval_s=60):
        rotate_ledger_key(svc.services)
        assert sign_tree_head_if_due(svc.services) == 1
        _fill(svc, 1)
        svc.clock.advance(timedelta(seconds=59))
        assert sign_tree_head_if_due(svc.services) == 0
        svc.clock.advance(timedelta(seconds=1))
        assert sign_tree_head_if_due(svc.services) == 1


def test_no_head_is_due_without_a_key(svc: LedgerServices) -> None:
    _fill(svc, 3)
    assert sign_tree_head_if_due(svc.services) == 0
    with svc.uow() as uow:
        assert stored_heads(uow.conn) == []


def test_a_head_bigger_than_the_tree_is_not_signed_again(svc: LedgerServices) -> None:
    """A stored head beyond the current size (a tree that lost entries is for
    ``audit verify`` to report): the schedule signs nothing."""
    key = key_ring(svc.services).generate(T0)
    _fill(svc, 2)
    forged = sign_head(key, 5, bytes(32), T0)
    with svc.uow() as uow:
        uow.conn.execute(tree_heads.insert().values(**forged.to_json()))
        uow.commit()
    svc.clock.advance(timedelta(days=1))
    assert sign_tree_head_if_due(svc.services) == 0
    with svc.uow() as uow:
        assert stored_heads(uow.conn) == [forged]


# --- key rotation (rotation.rotate_ledger_key) ----------------------------------


def _rotations(svc: LedgerServices) -> list[dict[str, Any]]:
    with svc.uow() as uow:
        rows = uow.conn.execute(
            select(ledger.c.canonical, ledger.c.type, ledger.c.actor).order_by(ledger.c.seq)
        )
        return [{"type": r.type, "actor": r.actor, **json.loads(r.canonical)} for r in rows]


def test_each_ledger_key_rotation_is_a_ledger_event(svc: LedgerServices) -> None:
    """R-36: the new key becomes the active signer, the old one stays in the
    ring, and each rotation is recorded with public key ids only."""
    first = rotate_ledger_key(svc.services)
    svc.clock.advance(timedelta(minutes=1))
    second = rotate_ledger_key(svc.services, actor="operator:op")
    ring = key_ring(svc.services)
    assert ring.active().key_id == second.key_id != first.key_id
    assert [k.key_id for k in ring.all_keys()] == [first.key_id, second.key_id]
    events = _rotations(svc)
    assert [{k: e[k] for k in ("type", "actor", "time", "subject", "case")} for e in events] == [
        {
            "type": "admin:ledger_key:rotated",
            "actor": "cli:local",
            "time": utc(T0),
            "subject": None,
            "case": None,
        },
        {
            "type": "admin:ledger_key:rotated",
            "actor": "operator:op",
            "time": utc(T0 + timedelta(minutes=1)),
            "subject": None,
            "case": None,
        },
    ]
    assert [e["data"] for e in events] == [
        {"key_id": first.key_id, "previous_key_id": None, "algorithm": "Ed25519"},
        {"key_id": second.key_id, "previous_key_id": first.key_id, "algorithm": "Ed25519"},
    ]
    assert second.created_at == utc(T0 + timedelta(minutes=1))


# --- reading heads and proofs (proofs) -------------------------------------------


def test_only_admins_and_auditors_read_the_ledger() -> None:
    """R-38: proofs are for the admin and auditor roles only."""
    require_ledger_reader(_operator(Role.ADMIN))
    require_ledger_reader(_operator(Role.AUDITOR))
    require_ledger_reader(_operator(Role.AUDITOR, Role.APPROVER))
    for role in Role:
        if role not in (Role.ADMIN, Role.AUDITOR):
            with pytest.raises(NotAuthorized) as caught:
                require_ledger_reader(_operator(role))
            assert str(caught.value) == "only the admin and auditor roles read the ledger"
    with pytest.raises(NotAuthorized):
        require_ledger_reader(_operator())


def test_without_a_signed_head_there_is_nothing_to_prove_against(svc: LedgerServices) -> None:
    _fill(svc, 3)
    with pytest.raises(NoSignedHead) as caught:
        latest_signed_head(svc.services)
    assert str(caught.value) == "no signed tree head; run 'custos audit head'"
    assert caught.value.error_id == "no_signed_head"
    assert isinstance(caught.value, NotFound)
    with pytest.raises(NoSignedHead) as caught:
        entry_with_proof(svc.services, 1, reader=None)
    assert str(caught.value) == "no signed tree head; run 'custos audit head'"
    with pytest.raises(NoSignedHead) as caught:
        consistency(svc.services, 1)
    assert str(caught.value) == "no signed tree head; run 'custos audit head'"


def test_the_latest_signed_head_is_the_newest(svc: LedgerServices) -> None:
    rotate_ledger_key(svc.services)
    _fill(svc, 2)
    sign_tree_head(svc.services)
    _fill(svc, 2)
    svc.clock.advance(timedelta(seconds=1))
    newest = sign_tree_head(svc.services)
    assert latest_signed_head(svc.services) == newest.to_json()


def _signed(svc: LedgerServices, *sizes: int) -> dict[int, TreeHead]:
    """Signs a head at each of ``sizes`` (growing the ledger with plain entries)."""
    heads = {}
    for size in sizes:
        with svc.uow() as uow:
            have = uow.ledger.size()
        _fill(svc, size - have)
        svc.clock.advance(timedelta(seconds=1))
        heads[size] = sign_tree_head(svc.services)
    return heads


def _expected_answer(svc: LedgerServices, seq: int, head: TreeHead) -> dict[str, Any]:
    entries = _entries(svc)
    tree = _reference(svc)
    index = seq - 1
    return {
        "seq": seq,
        "leaf_index": index,
        "canonical": entries[index].decode("utf-8"),
        "leaf_hash": merkle.leaf_hash(entries[index]).hex(),
        "inclusion_proof": [h.hex() for h in merkle.inclusion_proof(index, head.tree_size, tree)],
        "tree_head": head.to_json(),
    }


def test_an_entry_comes_with_its_inclusion_proof_against_a_signed_head(
    svc: LedgerServices,
) -> None:
    """R-38: every entry under a signed head, with the proof the reference tree
    gives, against the newest head or a named older one; the answer checks out
    locally with the ring's public keys."""
    rotate_ledger_key(svc.services)
    heads = _signed(svc, 5, 11)
    keys = key_ring(svc.services).public_keys()
    for seq in range(1, 12):
        answer = entry_with_proof(svc.services, seq, reader=ADMIN)
        assert answer == _expected_answer(svc, seq, heads[11])
        assert check_entry_proof(answer, keys) == []
    for seq in range(1, 6):
        answer = entry_with_proof(svc.services, seq, reader=None, tree_size=5)
        assert answer == _expected_answer(svc, seq, heads[5])
        assert check_entry_proof(answer, keys) == []


def test_an_entry_newer_than_the_head_is_not_covered(svc: LedgerServices) -> None:
    rotate_ledger_key(svc.services)
    _signed(svc, 4)
    _fill(svc, 2)
    assert entry_with_proof(svc.services, 4, reader=None)["leaf_index"] == 3
    with pytest.raises(NotCovered) as caught:
        entry_with_proof(svc.services, 5, reader=None)
    assert str(caught.value) == (
        "entry seq 5 (index 4) is newer than the signed head at size 4; sign a new head first"
    )
    assert caught.value.error_id == "entry_not_covered"
    assert isinstance(caught.value, InvalidInput)
    with pytest.raises(NotCovered):
        entry_with_proof(svc.services, 6, reader=None, tree_size=4)


def test_an_unknown_entry_or_head_size_is_not_found(svc: LedgerServices) -> None:
    rotate_ledger_key(svc.services)
    _signed(svc, 3)
    with pytest.raises(NotFound) as caught:
        entry_with_proof(svc.services, 4, reader=None)
    assert str(caught.value) == "no ledger entry with seq 4"
    assert not isinstance(caught.value, NotCovered | NoSignedHead)
    with pytest.raises(NoSignedHead) as missing:
        entry_with_proof(svc.services, 1, reader=None, tree_size=2)
    assert str(missing.value) == "no signed tree head at size 2; run 'custos audit head'"


# readable_by and the scope of entries about subjects and cases

T_CASE = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
REQUIREMENTS = Requirements(
    tier="standard",
    action=CredentialAction.RESET_TOKEN,
    channels=frozenset({Channel.HELPDESK}),
    factors=1,
    methods=frozenset({"totp"}),
    phishing_resistant=False,
    approvals=0,
    approver_groups=frozenset(),
    approval_expiry=timedelta(hours=4),
    token_ttl=timedelta(minutes=15),
    post_checks=(),
    required_targets=None,
    case_ttl=timedelta(hours=24),
    max_proofing_failures=3,
    policy_hash="sha256:test",
    policy_version=1,
    risk_band="low",
)


def _people(svc: LedgerServices) -> None:
    """Subjects ``alice`` (staff) and ``mallory`` (board); a case about each."""
    with svc.uow() as uow:
        for subject_id, group in (("alice", "staff"), ("mallory", "board")):
            uow.subjects.add(
                Subject(id=subject_id, display_name=subject_id, groups=frozenset({group})),
                now=T_CASE,
            )
            uow.cases.add(
                Case(
                    id=f"case-{subject_id}",
                    subject_id=subject_id,
                    channel=Channel.HELPDESK,
                    reason="forgot password",
                    state=CaseState.PROOFING,
                    opened_at=T_CASE,
                    updated_at=T_CASE,
                    expires_at=expiry_for(T_CASE, REQUIREMENTS),
                    requirements=REQUIREMENTS,
                    risk=RiskAssessment(score=10, band="low", reasons=()),
                    requested_by="operator:hd",
                    requester_person="hd",
                )
            )
        uow.commit()


def test_an_entry_is_readable_within_the_readers_scope(svc: LedgerServices) -> None:
    """R-38: an entry naming a subject is read only by an operator whose scope
    covers that (still known) subject; one naming only a case, by the case's
    subject; one naming neither, by any reader; the local CLI and a ``*``
    scope read everything."""
    _people(svc)
    board = dataclasses.replace(STAFF_AUDITOR, scope=frozenset({"board"}))
    with svc.uow() as uow:

        def readable(reader: Operator | None, subject: str | None, case: str | None) -> bool:
            return readable_by(uow, reader, subject_id=subject, case_id=case)

        for reader in (None, ADMIN, dataclasses.replace(STAFF_AUDITOR, scope=frozenset("*"))):
            assert readable(reader, "mallory", None)
            assert readable(reader, "ghost", None)
            assert readable(reader, None, "case-ghost")
        assert readable(STAFF_AUDITOR, "alice", None)
        assert not readable(STAFF_AUDITOR, "mallory", None)
        assert readable(board, "mallory", None)
        assert not readable(board, "alice", None)
        assert not readable(STAFF_AUDITOR, "ghost", None)  # no longer known
        assert readable(STAFF_AUDITOR, None, "case-alice")
        assert not readable(STAFF_AUDITOR, None, "case-mallory")
        assert readable(board, None, "case-mallory")
        assert not readable(STAFF_AUDITOR, None, "case-ghost")
        # the subject named decides, not the case's
        assert readable(STAFF_AUDITOR, "alice", "case-mallory")
        assert not readable(STAFF_AUDITOR, "mallory", "case-alice")
        assert readable(STAFF_AUDITOR, None, None)
        assert readable(_operator(Role.AUDITOR, scope=()), None, None)


def test_an_entry_out_of_scope_answers_as_a_missing_one(svc: LedgerServices) -> None:
    """R-38: an auditor scoped to ``staff`` gets entries about alice, her case
    and about no one, and "no ledger entry" for mallory's, exactly as for a
    seq that does not exist."""
    rotate_ledger_key(svc.services)  # seq 1: about no one
    _people(svc)
    _append(
        svc,
        _event(1, subject="alice"),
        _event(2, subject="mallory"),
        _event(3, case="case-alice"),
        _event(4, case="case-mallory"),
        _event(5, subject="ghost"),
        _event(6, case="case-ghost"),
    )
    with svc.uow() as uow:
        size = uow.ledger.size()
        rows = uow.conn.execute(
            select(ledger.c.seq, ledger.c.subject_id, ledger.c.case_id).order_by(ledger.c.seq)
        ).all()
    by_what = {(r.subject_id, r.case_id): int(r.seq) for r in rows}
    sign_tree_head(svc.services)
    readable = [
        by_what[("alice", None)],
        by_what[(None, "case-alice")],
        1,
    ]
    hidden = [
        by_what[("mallory", None)],
        by_what[(None, "case-mallory")],
        by_what[("ghost", None)],
        by_what[(None, "case-ghost")],
    ]
    for seq in readable:
        assert entry_with_proof(svc.services, seq, reader=STAFF_AUDITOR)["seq"] == seq
    for seq in hidden:
        with pytest.raises(NotFound) as caught:
            entry_with_proof(svc.services, seq, reader=STAFF_AUDITOR)
        assert str(caught.value) == f"no ledger entry with seq {seq}"
        assert entry_with_proof(svc.services, seq, reader=ADMIN)["seq"] == seq
        assert entry_with_proof(svc.services, seq, reader=None)["seq"] == seq
    assert size == len(rows)


def test_consistency_between_two_signed_sizes(svc: LedgerServices) -> None:
    """R-38: the consistency proof between two sizes is the reference tree's,
    with both roots and the heads signed at those sizes (None where no head was
    signed); by default up to the newest signed head."""
    rotate_ledger_key(svc.services)
    heads = _signed(svc, 3, 7)
    _fill(svc, 2)  # 9 entries, the newest head at 7
    tree = _reference(svc)

    def expected(first: int, second: int) -> dict[str, Any]:
        return {
            "first": first,
            "second": second,
            "first_root": tree.root(first).hex(),
            "second_root": tree.root(second).hex(),
            "first_head": heads[first].to_json() if first in heads else None,
            "second_head": heads[second].to_json() if second in heads else None,
            "consistency_proof": [h.hex() for h in merkle.consistency_proof(first, second, tree)],
        }

    assert consistency(svc.services, 3) == expected(3, 7)
    assert consistency(svc.services, 3, 7) == expected(3, 7)
    assert consistency(svc.services, 2) == expected(2, 7)
    assert consistency(svc.services, 1, 9) == expected(1, 9)
    assert consistency(svc.services, 7) == expected(7, 7)
    assert consistency(svc.services, 9, 9) == expected(9, 9)
    for first, second in ((3, 7), (1, 9), (2, 7)):
        answer = consistency(svc.services, first, second)
        assert merkle.verify_consistency(
            first,
            second,
            bytes.fromhex(answer["first_root"]),
            bytes.fromhex(answer["second_root"]),
            [bytes.fromhex(h) for h in answer["consistency_proof"]],
        )


def test_consistency_refuses_sizes_out_of_order_or_beyond_the_tree(
    svc: LedgerServices,
) -> None:
    rotate_ledger_key(svc.services)
    _signed(svc, 4)
    _fill(svc, 2)  # 6 entries
    for first, second in ((0, 4), (-1, 4), (5, 4), (1, 7), (7, 7), (0, None), (5, None)):
        with pytest.raises(InvalidInput) as caught:
            consistency(svc.services, first, second)
        assert str(caught.value) == "sizes must satisfy 0 < first <= second <= 6"
        assert type(caught.value) is InvalidInput
