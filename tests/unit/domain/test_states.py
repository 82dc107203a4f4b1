"""The case state machine: the TRANSITIONS table is the only source of legal moves,
and the mermaid diagram beside it (docs/case-states.mmd) draws exactly that table."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from custos.domain.errors import DomainError, IllegalTransition
from custos.domain.states import (
    HOLD_RETURNS,
    OPEN_FOR_DECISION,
    TERMINAL,
    TRANSITIONS,
    CaseState,
    can_move,
    check_move,
    check_return,
)

DIAGRAM = Path(__file__).parents[3] / "docs" / "case-states.mmd"
_EDGE = re.compile(r"^\s*(\[\*\]|\w+)\s*-->\s*(\[\*\]|\w+)\s*$")
_LABELLED_EDGE = re.compile(r"^\s*(\w+)\s*-->\s*(\w+)\s*:\s*(.+?)\s*$")

LEGAL = sorted((a, b) for a, moves in TRANSITIONS.items() for b in moves)
ILLEGAL = sorted(
    (a, b) for a, b in itertools.product(CaseState, CaseState) if b not in TRANSITIONS[a]
)


def _diagram_edges() -> list[tuple[str, str]]:
    edges = []
    for line in DIAGRAM.read_text(encoding="utf-8").splitlines():
        match = _EDGE.match(line)
        if match:
            edges.append((match.group(1), match.group(2)))
    return edges


def test_state_values_are_the_stable_stored_strings() -> None:
    assert {str(s) for s in CaseState} == {
        "opened",
        "proofing",
        "awaiting_approval",
        "approved",
        "credential_issued",
        "executing",
        "verifying",
        "completed",
        "denied",
        "expired",
        "cancelled",
        "blocked",
        "needs_attention",
    }
    assert CaseState("awaiting_approval") is CaseState.AWAITING_APPROVAL


def test_transitions_table_covers_every_state_and_only_states() -> None:
    assert set(TRANSITIONS) == set(CaseState)
    for moves in TRANSITIONS.values():
        assert moves <= set(CaseState)


def test_no_state_moves_to_itself() -> None:
    for state, moves in TRANSITIONS.items():
        assert state not in moves


def test_legal_and_illegal_pairs_partition_all_pairs() -> None:
    assert len(LEGAL) + len(ILLEGAL) == len(CaseState) ** 2
    assert len(LEGAL) == 33


@pytest.mark.parametrize(("current", "target"), LEGAL)
def test_check_move_accepts_legal_move(current: CaseState, target: CaseState) -> None:
    assert can_move(current, target)
    check_move(current, target)  # does not raise


def test_check_return_refusal_names_the_states_it_refuses() -> None:
    """R-32: a refused return after a hold says which move was refused, with the
    stable error id and both states as details (the API and CLI show them)."""
    with pytest.raises(IllegalTransition) as caught:
        check_return(CaseState.BLOCKED, CaseState.EXECUTING)
    error = caught.value
    assert error.error_id == "case_illegal_transition"
    assert error.message == (
        "a case in state 'blocked' cannot go back to 'executing' when a hold ends"
    )
    assert error.details == {"current": "blocked", "target": "executing"}


@pytest.mark.parametrize(("current", "target"), ILLEGAL)
def test_check_move_refuses_illegal_move(current: CaseState, target: CaseState) -> None:
    assert not can_move(current, target)
    with pytest.raises(IllegalTransition) as caught:
        check_move(current, target)
    error = caught.value
    assert isinstance(error, DomainError)
    assert error.error_id == "case_illegal_transition"
    assert error.details == {"current": str(current), "target": str(target)}
    assert str(current) in error.message and str(target) in error.message


def test_terminal_states_have_no_moves() -> None:
    assert {
        CaseState.COMPLETED,
        CaseState.DENIED,
        CaseState.EXPIRED,
        CaseState.CANCELLED,
    } == TERMINAL
    for state in TERMINAL:
        assert TRANSITIONS[state] == frozenset()
        assert not any(can_move(state, target) for target in CaseState)


def test_every_non_terminal_state_can_reach_a_terminal_state() -> None:
    for start in set(CaseState) - TERMINAL:
        seen, frontier = {start}, [start]
        while frontier:
            for nxt in TRANSITIONS[frontier.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
        assert seen & TERMINAL, f"{start} cannot reach a terminal state"


def test_decision_states_may_expire_and_in_flight_states_may_not() -> None:
    # 'opened' is in OPEN_FOR_DECISION but has no expired move: see
    # test_case_lifecycle.py::test_ensure_live_expires_opened_case_past_expiry.
    for state in (
        CaseState.PROOFING,
        CaseState.AWAITING_APPROVAL,
        CaseState.APPROVED,
        CaseState.CREDENTIAL_ISSUED,
    ):
        assert state in OPEN_FOR_DECISION
        assert can_move(state, CaseState.EXPIRED)
    for state in (CaseState.EXECUTING, CaseState.VERIFYING, CaseState.NEEDS_ATTENTION):
        assert state not in OPEN_FOR_DECISION
        assert not can_move(state, CaseState.EXPIRED)


def test_blocked_leaves_only_through_break_glass_or_cancel() -> None:
    """Break-glass goes back to approval, or to proofing when the case's
    evidence is not in (docs/exceptions.md); never further."""
    assert TRANSITIONS[CaseState.BLOCKED] == {
        CaseState.PROOFING,
        CaseState.AWAITING_APPROVAL,
        CaseState.CANCELLED,
    }
    assert not can_move(CaseState.BLOCKED, CaseState.APPROVED)
    assert not can_move(CaseState.BLOCKED, CaseState.CREDENTIAL_ISSUED)


def test_diagram_edges_equal_transitions_table() -> None:
    drawn: dict[CaseState, set[CaseState]] = {s: set() for s in CaseState}
    for source, target in _diagram_edges():
        if "[*]" in (source, target):
            continue
        drawn[CaseState(source)].add(CaseState(target))
    assert drawn == {s: set(moves) for s, moves in TRANSITIONS.items()}


def test_diagram_draws_the_returns_from_a_hold_as_labelled_edges() -> None:
    """The only labelled edges are the returns from a hold, exactly HOLD_RETURNS."""
    labelled = [
        m.groups()
        for line in DIAGRAM.read_text(encoding="utf-8").splitlines()
        if (m := _LABELLED_EDGE.match(line))
    ]
    assert {label for _, _, label in labelled} == {"last hold ends"}
    assert len(labelled) == len(HOLD_RETURNS)
    assert {(CaseState(a), CaseState(b)) for a, b, _ in labelled} == {
        (CaseState.BLOCKED, s) for s in HOLD_RETURNS
    }


def test_a_held_case_returns_only_from_blocked_to_a_state_a_hold_blocks() -> None:
    """R-32: going back after a hold is its own rule, never a way around approval:
    ``check_move`` still refuses blocked -> approved; ``check_return`` allows it
    (the case must have stood there, which Case.release checks)."""
    assert {
        CaseState.PROOFING,
        CaseState.AWAITING_APPROVAL,
        CaseState.APPROVED,
        CaseState.CREDENTIAL_ISSUED,
    } == HOLD_RETURNS
    for target in HOLD_RETURNS:
        check_return(CaseState.BLOCKED, target)  # does not raise
    for target in set(CaseState) - HOLD_RETURNS:
        with pytest.raises(IllegalTransition):
            check_return(CaseState.BLOCKED, target)
    for current in set(CaseState) - {CaseState.BLOCKED}:
        with pytest.raises(IllegalTransition):
            check_return(current, CaseState.PROOFING)


def test_diagram_draws_each_legal_move_once() -> None:
    inner = [e for e in _diagram_edges() if "[*]" not in e]
    assert len(inner) == len(set(inner)) == len(LEGAL)


def test_diagram_starts_at_opened_and_ends_at_terminal_states() -> None:
    edges = _diagram_edges()
    assert [t for s, t in edges if s == "[*]"] == ["opened"]
    assert {CaseState(s) for s, t in edges if t == "[*]"} == TERMINAL


def test_diagram_is_a_mermaid_state_diagram_with_notes() -> None:
    text = DIAGRAM.read_text(encoding="utf-8")
    assert "stateDiagram-v2" in text
    assert re.search(r"note (right|left) of blocked", text)
    assert re.search(r"note (right|left) of needs_attention", text)


# The moves below are written out by name, not derived from TRANSITIONS, so that
# editing the table and the diagram together cannot make them legal unnoticed.
S = CaseState
FORBIDDEN_BY_NAME = [
    # Approval without proofing: the case must pass proofing first.
    (S.OPENED, S.APPROVED),
    (S.OPENED, S.AWAITING_APPROVAL),
    (S.OPENED, S.CREDENTIAL_ISSUED),
    (S.OPENED, S.EXECUTING),
    (S.OPENED, S.COMPLETED),
    # A credential without a decision: approval comes first.
    (S.PROOFING, S.CREDENTIAL_ISSUED),
    (S.AWAITING_APPROVAL, S.CREDENTIAL_ISSUED),
    (S.AWAITING_APPROVAL, S.EXECUTING),
    (S.APPROVED, S.EXECUTING),
    # A block is left only through break-glass (back to proofing or approval)
    # or cancel; a hold's end is check_return's business, never check_move's.
    (S.BLOCKED, S.APPROVED),
    (S.BLOCKED, S.CREDENTIAL_ISSUED),
    (S.BLOCKED, S.EXPIRED),
    # In-flight credential work is never expired or denied half-way.
    (S.EXECUTING, S.EXPIRED),
    (S.EXECUTING, S.CANCELLED),
    (S.VERIFYING, S.EXPIRED),
    (S.NEEDS_ATTENTION, S.COMPLETED),
]
FINAL_STATES = (S.COMPLETED, S.DENIED, S.EXPIRED, S.CANCELLED)


@pytest.mark.parametrize(("current", "target"), FORBIDDEN_BY_NAME)
def test_check_move_refuses_named_forbidden_move(current: CaseState, target: CaseState) -> None:
    """R-32: no path skips proofing, approval or a block's break-glass exit."""
    assert not can_move(current, target)
    with pytest.raises(IllegalTransition):
        check_move(current, target)


@pytest.mark.parametrize("final", FINAL_STATES)
def test_check_move_refuses_every_move_out_of_a_final_state(final: CaseState) -> None:
    """A completed, denied, expired or cancelled case never moves again (R-35:
    its ledger record is final)."""
    for target in CaseState:
        assert not can_move(final, target), target
        with pytest.raises(IllegalTransition):
            check_move(final, target)


def test_named_happy_path_is_legal() -> None:
    """The moves of an ordinary recovery, by name."""
    path = [
        S.OPENED,
        S.PROOFING,
        S.AWAITING_APPROVAL,
        S.APPROVED,
        S.CREDENTIAL_ISSUED,
        S.EXECUTING,
        S.VERIFYING,
        S.COMPLETED,
    ]
    for current, target in itertools.pairwise(path):
        check_move(current, target)
    check_move(S.BLOCKED, S.PROOFING)
    check_move(S.BLOCKED, S.AWAITING_APPROVAL)
    check_move(S.BLOCKED, S.CANCELLED)


def test_blocked_is_not_open_for_decision() -> None:
    """A blocked case waits on a hold, not on a decision: it is never swept as
    expired (see Case.is_expired and the worker's expire_cases)."""
    assert S.BLOCKED not in OPEN_FOR_DECISION
    assert {S.PROOFING, S.AWAITING_APPROVAL, S.APPROVED, S.CREDENTIAL_ISSUED} == OPEN_FOR_DECISION
