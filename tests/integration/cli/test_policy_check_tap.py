"""``custos policy check`` and a tier's ``temporary_access_pass``
(docs/policy.md#temporary_access_pass): valid only with the ``reissue`` action,
refused when no configured target can issue a pass (as a check no target can
run is refused), explained when accepted."""

from __future__ import annotations

from pathlib import Path

from reissue_world import POLICY
from typer.testing import CliRunner

from custos.cli.main import app

REISSUE = "    action: reissue\n    token_ttl: 10m\n"
TAP = "    temporary_access_pass: {lifetime_minutes: 30, usable_once: true}\n"
#: The reissue policy's admins tier with a pass.
ON_REISSUE = POLICY.replace(REISSUE, REISSUE + TAP)
#: The same setting on the standard tier, a reset.
ON_RESET = POLICY.replace(
    "    action: reset_token\n    token_ttl: 15m\n",
    "    action: reset_token\n    token_ttl: 15m\n" + TAP,
)
BUILTIN = '[targets.directory]\nkind = "builtin"\n'
ENTRA = """
[targets.entra]
kind = "entra"
tenant_id = "contoso.example"
client_id = "00000000-0000-0000-0000-000000000001"
client_secret = {env = "CUSTOS_TEST_NO_SUCH_VARIABLE"}
"""


def _check(tmp_path: Path, policy: str, targets: str) -> tuple[int, str]:
    assert policy != POLICY
    config = tmp_path / "custos.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n{targets}', encoding="utf-8")
    path = tmp_path / "policy.yaml"
    path.write_text(policy, encoding="utf-8")
    result = CliRunner().invoke(app, ["--config", str(config), "policy", "check", str(path)])
    return result.exit_code, result.output


def test_policy_check_refuses_a_pass_on_a_reset_tier(tmp_path: Path) -> None:
    """Only a reissue removes the factors a pass lets the subject register again."""
    code, output = _check(tmp_path, ON_RESET, BUILTIN + ENTRA)
    assert code == 1
    assert "temporary_access_pass only goes with action reissue" in output
    line = ON_RESET.splitlines().index(TAP.rstrip("\n")) + 1
    assert f"policy.yaml:{line}:" in output, output


def test_policy_check_refuses_a_pass_no_configured_target_can_issue(tmp_path: Path) -> None:
    """R-24: without an Entra target the setting would silently do nothing:
    refused naming the tier and the line, like a check no target can run."""
    code, output = _check(tmp_path, ON_REISSUE, BUILTIN)
    assert code == 1
    assert "tiers[1].temporary_access_pass" in output
    assert "tier 'admins' issues a Temporary Access Pass, which no configured target" in output
    line = ON_REISSUE.splitlines().index(TAP.rstrip("\n")) + 1
    assert f"policy.yaml:{line}:" in output, output


def test_policy_check_accepts_and_explains_a_pass_with_an_entra_target(tmp_path: Path) -> None:
    code, output = _check(tmp_path, ON_REISSUE, BUILTIN + ENTRA)
    assert code == 0, output
    assert "a Temporary Access Pass on entra (30 min, one sign-in)" in output
    assert "one-time link" in output
