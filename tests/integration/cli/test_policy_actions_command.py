"""``custos policy check`` accepts the actions beyond a reset and explains
each tier's; it refuses the combinations that could never work, with the
file and line (issue 13)."""

from __future__ import annotations

from pathlib import Path

from reissue_world import INSTRUCTIONS, POLICY
from typer.testing import CliRunner, Result

from custos.cli.main import app


def run(tmp: Path, *args: str) -> Result:
    env: dict[str, str | None] = {
        "CUSTOS_SEALING_KEY": None,
        "CUSTOS_CONFIG": None,
        "CUSTOS_DATABASE_URL": None,
        "CUSTOS_OUTBOX_DIR": None,
        "CUSTOS_SEALING_KEY_FILE": None,
    }
    return CliRunner().invoke(app, ["--data-dir", str(tmp), *args], env=env)


def test_policy_check_accepts_and_explains_reissue_reproof_and_refuse(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY, encoding="utf-8")
    result = run(tmp_path, "policy", "check", str(path))
    assert result.exit_code == 0, result.output + result.stderr
    out = " ".join(result.stdout.split())
    assert "admins: reissue: a reissue:" in out
    assert "every authenticator removed" in out and "re-enrolment before the next sign-in" in out
    assert "vault: reproof: identity re-proofing" in out
    assert (
        "break-glass: refuse: recovery refused; the caller is told whom to contact: "
        f'"{INSTRUCTIONS}"' in out
    )


def _check(tmp_path: Path, old: str, new: str) -> tuple[int, str, int]:
    assert POLICY.count(old) == 1, old
    line = POLICY[: POLICY.index(old)].count("\n") + 1
    path = tmp_path / "broken.yaml"
    path.write_text(POLICY.replace(old, new), encoding="utf-8")
    result = run(tmp_path, "policy", "check", str(path))
    return result.exit_code, result.stderr, line


def test_a_refuse_tier_without_instructions_is_refused(tmp_path: Path) -> None:
    code, err, _ = _check(tmp_path, f'    instructions: "{INSTRUCTIONS}"\n', "")
    assert code == 1
    assert "tier 'break-glass' (refuse) needs 'instructions'" in err


def test_a_reissue_tier_cannot_check_mfa_bound(tmp_path: Path) -> None:
    old = "    token_ttl: 10m\n    post_checks: [read_back, sessions_revoked]\n"
    code, err, line = _check(
        tmp_path,
        old,
        "    token_ttl: 10m\n    post_checks: [read_back, sessions_revoked, mfa_bound]\n",
    )
    assert code == 1
    assert f":{line + 1}: " in err and "mfa_bound could never pass" in err


def test_a_reproof_tier_must_offer_re_proofing(tmp_path: Path) -> None:
    code, err, _ = _check(
        tmp_path,
        "methods: [email_code, totp, reproofing]",
        "methods: [email_code, totp]",
    )
    assert code == 1
    assert "a reproof tier re-proofs first" in err
