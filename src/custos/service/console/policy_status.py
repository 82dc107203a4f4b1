"""The active policy beside the policy file as it is on disk now: the same
validation ``custos policy check`` runs on the file (every problem with its
line), and whether the file still is the text Custos runs (docs/console.md#administration).

Custos reads the policy once, at start: an edited file takes effect at the next
start, and only if it is valid (bootstrap refuses an invalid one)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from custos.connectors.registry import configured_capabilities
from custos.policy.loader import PolicyError, PolicyProblem, load_policy, require_runnable_checks
from custos.service.ports import Services


@dataclass(frozen=True, slots=True)
class DiskPolicy:
    """The policy file now. ``hash`` is None when the file cannot be read;
    ``version`` is None when the file is not valid."""

    path: str
    hash: str | None
    version: int | None
    problems: tuple[PolicyProblem, ...]

    @property
    def valid(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class PolicyStatus:
    path: str
    active_hash: str
    active_version: int
    disk: DiskPolicy

    @property
    def disk_differs(self) -> bool:
        """Whether the file on disk is not the text Custos runs (unreadable counts)."""
        return self.disk.hash != self.active_hash


def policy_status(svc: Services) -> PolicyStatus:
    """The active policy's identity and the check of its file on disk."""
    active = svc.policy
    return PolicyStatus(
        path=active.source,
        active_hash=active.hash,
        active_version=active.version,
        disk=check_file(svc, Path(active.source)),
    )


def check_file(svc: Services, path: Path) -> DiskPolicy:
    """What ``custos policy check PATH`` says of ``path`` under this
    configuration's targets: its problems (none when valid) and its hash."""
    try:
        # The hash of the bytes: what loader.policy_hash gives for a UTF-8 text.
        digest: str | None = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        digest = None
    try:
        loaded = load_policy(path)
        require_runnable_checks(loaded, configured_capabilities(svc.settings.targets))
    except PolicyError as exc:
        return DiskPolicy(str(path), digest, None, tuple(exc.problems))
    return DiskPolicy(str(path), digest, loaded.version, ())
