"""Loading policy files: the default ships and loads, bad files name the right line."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from custos.domain.errors import InvalidInput
from custos.policy.loader import (
    DEFAULT_POLICY_PATH,
    LoadedPolicy,
    PolicyError,
    PolicyProblem,
    _syntax_problem,
    load_policy,
    parse_policy,
    policy_hash,
)

VALID = """\
version: 3
risk_bands: {low: [0, 39], medium: [40, 69], high: [70, 100]}
tiers:
  - name: everyone
    channels: [self_service]
    proofing: {factors: 1, methods: [totp]}
    action: reset_token
    token_ttl: 15m
"""


def problems_of(text: str) -> list[tuple[int, str]]:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "p.yaml")
    return [(p.line, p.reason) for p in info.value.problems]


def test_default_policy_loads_with_all_tiers() -> None:
    policy = load_policy(DEFAULT_POLICY_PATH)
    assert [t.name for t in policy.document.tiers] == [
        "frozen",
        "service",
        "privileged",
        "shared",
        "contractor",
        "standard",
        "catch-all",
    ]
    assert policy.source == str(DEFAULT_POLICY_PATH)
    assert policy.version == 1


def test_default_policy_ends_with_catch_all_when_loaded() -> None:
    assert (
        load_policy(DEFAULT_POLICY_PATH).document.tiers[-1].match.model_dump(exclude_none=True)
        == {}
    )


def test_parse_policy_keeps_text_and_hash_when_valid() -> None:
    policy = parse_policy(VALID, "p.yaml")
    assert isinstance(policy, LoadedPolicy)
    assert policy.text == VALID
    assert policy.hash == policy_hash(VALID)
    assert policy.hash.startswith("sha256:") and len(policy.hash) == len("sha256:") + 64


def test_hash_changes_when_text_changes() -> None:
    """Any edit, even a comment, is a new policy identity frozen on cases."""
    first = parse_policy(VALID, "p.yaml")
    second = parse_policy(VALID + "# reviewed\n", "p.yaml")
    assert first.document == second.document
    assert first.hash != second.hash


def test_hash_is_sha256_of_utf8_bytes_when_text_has_non_ascii() -> None:
    text = VALID.replace("everyone", "everyone\n    description: Zoë's tier")
    assert parse_policy(text, "p").hash == "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def test_policy_error_is_invalid_input_with_stable_id() -> None:
    with pytest.raises(InvalidInput) as info:
        parse_policy("version: 1\n", "p.yaml")
    assert info.value.error_id == "policy_invalid"


def test_error_lists_file_line_reason_when_invalid() -> None:
    text = VALID.replace("    token_ttl: 15m\n", "    token_ttl: 15m\n    colour: red\n")
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "site.yaml")
    assert str(info.value) == "site.yaml:9: tiers[0]: unknown key 'colour'"


def test_unknown_key_reports_its_line() -> None:
    text = VALID.replace(
        "proofing: {factors: 1, methods: [totp]}",
        "proofing:\n      factors: 1\n      methods: [totp]\n      metod: totp",
    )
    assert problems_of(text) == [(9, "tiers[0].proofing: unknown key 'metod'")]


def test_bad_duration_reports_its_line() -> None:
    [(line, reason)] = problems_of(VALID.replace("15m", "15 minutes"))
    assert line == 8
    assert reason.startswith("tiers[0].token_ttl: '15 minutes' is not a duration")


def test_unknown_method_reports_its_line() -> None:
    text = VALID.replace(
        "    proofing: {factors: 1, methods: [totp]}\n",
        "    proofing:\n      factors: 1\n      methods:\n        - totp\n        - sms\n",
    )
    [(line, reason)] = problems_of(text)
    assert line == 10
    assert "unknown proofing method 'sms'" in reason


def test_duplicate_tier_names_report_second_name_line() -> None:
    text = VALID + VALID.split("tiers:\n", 1)[1]
    assert problems_of(text) == [(9, "tiers[1].name: tier name 'everyone' is used twice")]


def test_yaml_syntax_error_reports_problem_line() -> None:
    text = VALID.replace("channels: [self_service]", "channels: [self_service")
    [(line, reason)] = problems_of(text)
    assert line == 6
    assert reason.startswith("YAML syntax error")


def test_duplicate_yaml_key_reports_second_occurrence() -> None:
    text = VALID + "    token_ttl: 10m\n"
    assert problems_of(text) == [(9, "key 'token_ttl' appears twice")]


def test_missing_required_key_points_at_enclosing_tier() -> None:
    text = VALID.replace("    action: reset_token\n", "")
    assert problems_of(text) == [(4, "tiers[0]: missing required key 'action'")]


def test_empty_file_is_invalid() -> None:
    assert problems_of("") == [(1, "a policy file is a YAML mapping; this one is empty")]


def test_several_problems_are_all_reported_in_line_order() -> None:
    text = VALID.replace("15m", "0s").replace("[totp]", "[totp, sms]")
    assert [line for line, _ in problems_of(text)] == [6, 8]


def test_load_policy_reports_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(PolicyError) as info:
        load_policy(missing)
    assert str(info.value).startswith(f"{missing}:1: cannot read policy file")


def test_load_policy_reads_file_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(VALID, encoding="utf-8")
    assert load_policy(path).hash == policy_hash(VALID)


def test_load_policy_hash_matches_file_bytes_when_crlf(tmp_path: Path) -> None:
    path = tmp_path / "crlf.yaml"
    path.write_bytes(VALID.replace("\n", "\r\n").encode())
    assert load_policy(path).hash == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_yaml_syntax_error_names_context_and_problem() -> None:
    """The reason joins the parser's context and problem, on the problem's line."""
    text = VALID.replace("channels: [self_service]", "channels: [self_service")
    [(line, reason)] = problems_of(text)
    assert line == 6
    assert reason == (
        "YAML syntax error: while parsing a flow sequence expected ',' or ']', but got ':'"
    )


def test_yaml_error_without_position_is_reported_on_line_one() -> None:
    """A parser error carrying no mark still gets a line (1) and a reason."""
    bare = yaml.MarkedYAMLError(problem="something broke")
    assert _syntax_problem(bare, "p.yaml") == PolicyProblem(
        "p.yaml", 1, "YAML syntax error: something broke"
    )
    with_context = yaml.MarkedYAMLError(context="while reading", problem="a bad byte")
    assert _syntax_problem(with_context, "p.yaml").reason == (
        "YAML syntax error: while reading a bad byte"
    )


@pytest.mark.parametrize(
    ("part", "tag"),
    [
        ("function-after", True),
        ("function-before", True),
        ("function-plain", True),
        ("literal['all']", True),
        ("tuple[str, ...]", True),
        ("channels", False),
        ("function", False),
    ],
)
def test_type_tags_of_pydantic_locations_are_recognised(part: str, tag: bool) -> None:
    """Validator and union-member names pydantic puts in error locations are not
    policy keys, so problem paths leave them out."""
    from custos.policy.loader import _is_type_tag

    assert _is_type_tag(part) is tag


def test_policy_error_lists_every_problem_with_source_and_line() -> None:
    """`custos policy check` prints each problem as ``source:line: reason``."""
    text = (
        VALID.replace("15m", "0s")
        .replace("[totp]", "[totp, totp]")
        .replace("channels: [self_service]", "channels: [self_service]\n    channels: [helpdesk]")
    )
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "site.yaml")
    assert str(info.value) == "site.yaml:6: key 'channels' appears twice"
    assert info.value.details == {"problems": 1}
    with pytest.raises(PolicyError) as info:
        parse_policy(VALID.replace("15m", "0s").replace("[totp]", "[totp, totp]"), "site.yaml")
    assert str(info.value) == (
        "site.yaml:6: tiers[0].proofing.methods: 'totp' is listed twice\n"
        "site.yaml:8: tiers[0].token_ttl: a duration must be positive, got '0s'"
    )
    assert info.value.details == {"problems": 2}
    assert [p.source for p in info.value.problems] == ["site.yaml", "site.yaml"]


def test_yaml_errors_carry_the_source_name() -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy("a: [1\n", "site.yaml")
    [problem] = info.value.problems
    assert (problem.source, problem.line) == ("site.yaml", 2)
    with pytest.raises(PolicyError) as nested:
        parse_policy(VALID + "    post_checks: [read_back]\n    post_checks: [read_back]\n", "x")
    assert [(p.source, p.line) for p in nested.value.problems] == [("x", 10)]


def test_duration_of_another_type_is_refused_with_its_type() -> None:
    text = VALID.replace("token_ttl: 15m", "token_ttl: [15m]")
    assert problems_of(text) == [
        (8, "tiers[0].token_ttl: a duration must be a string such as '10m' or '4h', not list")
    ]


def test_document_that_is_not_a_mapping_names_its_source() -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy("- a\n- b\n", "site.yaml")
    [problem] = info.value.problems
    assert (problem.source, problem.line) == ("site.yaml", 1)
    assert problem.reason == "a policy file is a YAML mapping; this one is a list"
