"""Where a policy error points (``loader._line_of``, ``loader._dotted``): the
line of the deepest part of the error's location that exists in the file,
and the dotted path without pydantic's union-member names, so that
``file:line: path: reason`` leads the operator to the right place."""

from __future__ import annotations

import yaml

from custos.policy.loader import _dotted, _line_of

TEXT = """# a comment

tiers:
  - name: low
    methods:
      - totp
  - scalar item
version: 1
"""
ROOT = yaml.compose(TEXT, Loader=yaml.SafeLoader)


def test_no_document_points_at_line_one() -> None:
    assert _line_of(None, ("tiers",)) == 1


def test_an_empty_location_points_at_the_documents_first_line() -> None:
    assert _line_of(ROOT, ()) == 3


def test_a_mapping_key_points_at_the_key_not_its_value() -> None:
    assert _line_of(ROOT, ("tiers",)) == 3
    assert _line_of(ROOT, ("version",)) == 8


def test_a_sequence_item_points_at_the_item() -> None:
    assert _line_of(ROOT, ("tiers", 1)) == 7
    assert _line_of(ROOT, ("tiers", 0, "methods", 0)) == 6


def test_a_missing_key_or_item_stops_at_the_deepest_existing_node() -> None:
    assert _line_of(ROOT, ("tiers", 0, "colour")) == 4
    assert _line_of(ROOT, ("tiers", 2, "name")) == 3
    assert _line_of(ROOT, ("tiers", -1)) == 3


def test_a_location_past_a_scalar_stops_at_the_scalar() -> None:
    assert _line_of(ROOT, ("tiers", 1, "name")) == 7
    assert _line_of(ROOT, ("tiers", 1, 1)) == 7
    assert _line_of(ROOT, ("tiers", "0")) == 3


def test_dotted_paths_skip_union_member_names() -> None:
    assert _dotted(("tiers", 0, "literal['all']", "methods", 1)) == "tiers[0].methods[1]"
    assert _dotted(("tiers", "function-after", "name")) == "tiers.name"
    assert _dotted(("function-plain", "version")) == "version"
    assert _dotted(()) == ""
