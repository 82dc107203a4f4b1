"""``custos policy check`` on the shipped default policy (issue 13): valid, the
privileged tier reissues (not a reset) and the shared tier says how owners
receive the credential (docs/shared-accounts.md)."""

from __future__ import annotations

from pathlib import Path

from test_policy_actions_command import run

from custos.policy.loader import DEFAULT_POLICY_PATH


def test_default_policy_check_shows_privileged_reissue_and_shared_owner_links(
    tmp_path: Path,
) -> None:
    result = run(tmp_path, "policy", "check", str(DEFAULT_POLICY_PATH))
    assert result.exit_code == 0, result.output + result.stderr
    out = " ".join(result.stdout.split())
    assert "privileged: reissue: a reissue:" in out
    assert (
        "shared: reset_token: a one-time reset link (the subject sets a new password); "
        "for a shared account: only an owner asks" in out
    )
    assert "each owner gets their own one-time link showing it once" in out
    assert "standard: reset_token: a one-time reset link (the subject sets a new password) " in out
