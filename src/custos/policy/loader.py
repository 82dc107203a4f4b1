"""Load a policy file into a :class:`LoadedPolicy`, or explain, line by line, why not.

Every problem (YAML syntax, duplicate keys, schema) becomes a
:class:`PolicyProblem` pointing at the 1-based line of the offending node, and
all of them travel in one :class:`PolicyError`, so ``custos policy check`` can
print ``file:line: reason`` for each.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from custos.domain.errors import InvalidInput
from custos.policy.runnable import Unrunnable, unissuable_passes, unrunnable_checks
from custos.policy.schema import PolicyDocument, PolicyRuleError

#: libyaml's safe loader where PyYAML was built with it (about ten times faster
#: than the pure-Python one); the pure-Python safe loader otherwise.
SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: The policy shipped with Custos; used when configuration names no other file.
DEFAULT_POLICY_PATH: Path = Path(__file__).parent / "default_policy.yaml"


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    """One reason a policy file is invalid; ``line`` is 1-based."""

    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


class PolicyError(InvalidInput):
    """A policy file cannot be used. ``problems`` is never empty; ``str()`` gives
    one ``file:line: reason`` line per problem, in file order."""

    error_id = "policy_invalid"

    def __init__(self, problems: list[PolicyProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line, p.reason))
        super().__init__("\n".join(str(p) for p in self.problems), problems=len(self.problems))


@dataclass(frozen=True, slots=True)
class LoadedPolicy:
    """A validated policy with the exact text it came from.

    ``hash`` is ``"sha256:" + hex`` of the UTF-8 bytes of ``text``; it is frozen on
    every case so the case can be tied to the exact policy that governed it.
    """

    document: PolicyDocument
    text: str
    hash: str
    source: str

    @property
    def version(self) -> int:
        return self.document.version


def policy_hash(text: str) -> str:
    """The identity of a policy text: ``sha256:`` and the hex digest of its UTF-8 bytes."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_policy(path: Path) -> LoadedPolicy:
    """Read and validate the policy file at ``path``.

    Raises :class:`PolicyError` if the file cannot be read, is not UTF-8, or is
    invalid; ``source`` in each problem is ``str(path)``.
    """
    source = str(path)
    try:
        # Bytes, not read_text: newline translation would make the hash differ
        # from a hash of the file itself.
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError([PolicyProblem(source, 1, f"cannot read policy file: {exc}")]) from exc
    return parse_policy(text, source)


def parse_policy(text: str, source: str) -> LoadedPolicy:
    """Validate policy ``text``; ``source`` names it in problems (a path or ``<stdin>``).

    Raises :class:`PolicyError` listing every problem found. Schema problems are
    reported only once the YAML itself parses and has no duplicate keys.
    """
    try:
        data, root = _parse_yaml(text, SAFE_LOADER)
    except yaml.YAMLError:
        # Name the problem as the pure-Python parser words it (libyaml's
        # messages are terser): parsing again costs only on a broken file.
        try:
            data, root = _parse_yaml(text, yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            raise PolicyError([_syntax_problem(exc, source)]) from exc
        except yaml.YAMLError as exc:
            raise PolicyError([PolicyProblem(source, 1, f"YAML error: {exc}")]) from exc

    duplicates = list(_duplicate_keys(root, source))
    if duplicates:
        raise PolicyError(duplicates)
    if not isinstance(data, dict):
        found = "empty" if data is None else f"a {type(data).__name__}"
        line = 1 if root is None else root.start_mark.line + 1
        raise PolicyError(
            [PolicyProblem(source, line, f"a policy file is a YAML mapping; this one is {found}")]
        )
    try:
        document = PolicyDocument.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(_schema_problems(exc, root, source)) from exc
    return LoadedPolicy(document=document, text=text, hash=policy_hash(text), source=source)


def require_runnable_checks(
    loaded: LoadedPolicy, capabilities: Mapping[str, frozenset[str]]
) -> None:
    """Refuse ``loaded`` when a tier requires a post-recovery check that none of
    the configured targets (``capabilities``: name -> operations offered) can
    ever run. Raises :class:`PolicyError` with one problem per tier and check,
    pointing at the check's line; likewise a ``temporary_access_pass`` that no
    configured target can issue."""
    found = unrunnable_checks(loaded.document, capabilities)
    found += unissuable_passes(loaded.document, capabilities)
    if not found:
        return
    root = yaml.compose(loaded.text, Loader=SAFE_LOADER)
    raise PolicyError(
        [
            PolicyProblem(
                loaded.source,
                _line_of(root, _problem_path(u)),
                f"tiers[{u.tier_index}].{u.key}: {u.reason}",
            )
            for u in found
        ]
    )


def _problem_path(found: Unrunnable) -> tuple[str | int, ...]:
    if found.key == "post_checks":
        return ("tiers", found.tier_index, "post_checks", found.check_index)
    return ("tiers", found.tier_index, found.key)


def _parse_yaml(text: str, loader: type[yaml.SafeLoader]) -> tuple[object, yaml.Node | None]:
    """The document's data and its node tree, both through the safe ``loader``:
    no arbitrary Python objects."""
    return yaml.load(text, Loader=loader), yaml.compose(text, Loader=loader)  # noqa: S506


def _syntax_problem(exc: yaml.MarkedYAMLError, source: str) -> PolicyProblem:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 1
    reason = " ".join(part for part in (exc.context, exc.problem) if part)
    return PolicyProblem(source, line, f"YAML syntax error: {reason or exc}")


def _duplicate_keys(node: yaml.Node | None, source: str) -> list[PolicyProblem]:
    """PyYAML keeps the last of two equal keys silently; in a policy that hides a rule."""
    problems: list[PolicyProblem] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    problems.append(
                        PolicyProblem(
                            source, key.start_mark.line + 1, f"key '{key.value}' appears twice"
                        )
                    )
                seen.add(key.value)
            problems.extend(_duplicate_keys(value, source))
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            problems.extend(_duplicate_keys(item, source))
    return problems


def _schema_problems(
    exc: ValidationError, root: yaml.Node | None, source: str
) -> list[PolicyProblem]:
    problems: list[PolicyProblem] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, PolicyRuleError):
            for violation in cause.violations:
                path = loc + violation.path
                problems.append(
                    PolicyProblem(source, _line_of(root, path), _reason(path, violation.reason))
                )
        elif error["type"] == "extra_forbidden":
            problems.append(
                PolicyProblem(
                    source, _line_of(root, loc), _reason(loc[:-1], f"unknown key '{loc[-1]}'")
                )
            )
        elif error["type"] == "missing":
            problems.append(
                PolicyProblem(
                    source,
                    _line_of(root, loc),
                    _reason(loc[:-1], f"missing required key '{loc[-1]}'"),
                )
            )
        else:
            message = str(cause) if isinstance(cause, ValueError) else error["msg"]
            problems.append(PolicyProblem(source, _line_of(root, loc), _reason(loc, message)))
    return problems


def _reason(loc: tuple[str | int, ...], message: str) -> str:
    where = _dotted(loc)
    return f"{where}: {message}" if where else message


def _dotted(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _is_type_tag(part):
            # pydantic adds union member names ("literal['all']") to locations.
            continue
        else:
            text += f".{part}" if text else part
    return text


def _is_type_tag(part: str) -> bool:
    return "[" in part or part in {"function-after", "function-before", "function-plain"}


def _line_of(root: yaml.Node | None, loc: tuple[str | int, ...]) -> int:
    """The 1-based line of the deepest node along ``loc`` that exists in the file.

    Through a mapping the key's line is used (``proofing:`` rather than its first
    child); through a sequence, the item's line. A missing key stops the walk, so
    "field required" points at the mapping that lacks it.
    """
    if root is None:
        return 1
    node: yaml.Node = root
    line = root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next(
                (
                    (k, v)
                    for k, v in node.value
                    if isinstance(k, yaml.ScalarNode) and k.value == str(part)
                ),
                None,
            )
            if found is None:
                break
            line = found[0].start_mark.line + 1
            node = found[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line
