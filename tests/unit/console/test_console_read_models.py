"""Pure parts of the console's read models: who an actor is in words, and how
far a witness file got against the newest signed tree head (docs/console.md#audit)."""

from __future__ import annotations

from custos.ledger.signing import TreeHead
from custos.service.console.actors import label
from custos.service.console.ledger_overview import file_witness

NAMES = {"operator:op-1": "hana"}


def test_actors_in_words() -> None:
    assert label("operator:op-1", NAMES) == "hana"
    assert label("subject:carl", NAMES, subject_id="carl", subject_name="Carl") == (
        "the subject (Carl)"
    )
    assert label("subject:carl", NAMES, subject_id="carl") == "the subject (carl)"
    assert label("system:custos", NAMES) == "Custos (automatic)"
    assert label("system:post_checks", NAMES) == "Custos (post checks)"
    assert label("cli:local", NAMES) == "cli:local"
    assert label("subject:dora", NAMES, subject_id="carl") == "subject:dora"
    assert label(None, NAMES) == "-"


def _head(size: int, root: str = "aa") -> TreeHead:
    return TreeHead(size, root, "2026-11-25T09:00:00.000000Z", "k", "sig")


def test_a_witness_file_is_up_to_date_behind_or_disagreeing() -> None:
    newest = _head(9)
    up = file_witness("w", [_head(4), _head(9)], [], newest)
    assert (up.state, up.latest_size) == ("up_to_date", 9)
    behind = file_witness("w", [_head(4)], [], newest)
    assert (behind.state, behind.detail) == ("behind", "newest head it holds: size 4")
    other_root = file_witness("w", [_head(9, "bb")], [], newest)
    assert other_root.state == "disagrees"
    ahead = file_witness("w", [_head(12)], [], newest)
    assert (ahead.state, ahead.detail) == ("disagrees", "holds a head the database does not")
    assert file_witness("w", [_head(3)], [], None).state == "disagrees"


def test_an_empty_or_damaged_witness_file() -> None:
    empty = file_witness("w", [], [], _head(9))
    assert (empty.state, empty.detail) == ("empty", "holds no tree head")
    before_any = file_witness("w", [], [], None)
    assert before_any.detail == "holds no tree head; none was signed yet"
    damaged = file_witness("w", [_head(9)], ["w:3: not a tree head"], _head(9))
    assert (damaged.state, damaged.detail) == ("damaged", "w:3: not a tree head")
