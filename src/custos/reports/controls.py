"""The framework controls a compliance report covers, each with the evidence
drawn from :class:`~custos.reports.figures.Figures` and a status:

- ``met``: the evidence for the period shows the control operating;
- ``attention``: the evidence shows a gap a reviewer must look at;
- ``no_data``: nothing happened in the period that would show it either way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from custos.reports.figures import Figures
from custos.reports.text import counts, duration

Status = Literal["met", "attention", "no_data"]


@dataclass(frozen=True, slots=True)
class Control:
    id: str
    framework: str
    title: str
    status: Status
    evidence: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "framework": self.framework,
            "title": self.title,
            "status": self.status,
            "evidence": list(self.evidence),
        }


def _pct(share: float | None) -> str:
    return "n/a" if share is None else f"{share * 100:.0f}%"


def _ledger_ok(f: Figures) -> Status:
    """Verified *and* anchored by at least one signed tree head: without a head,
    recomputing the tree proves nothing against a rewritten database."""
    state = f.ledger["state"]
    if state == "verified":
        return "met" if f.ledger["heads_checked"] else "attention"
    return "attention" if state == "broken" else "no_data"


def _ledger_line(f: Figures) -> str:
    led = f.ledger
    if led["state"] == "verified":
        heads = (
            f"{led['heads_checked']} signed tree head(s) checked."
            if led["heads_checked"]
            else "no signed tree head covers it yet (sign one: custos audit head)."
        )
        return f"Ledger verified: {led['entries']} entries recomputed; {heads}"
    if led["state"] == "broken":
        return f"Ledger verification FAILED: {led['problems']} problem(s); first: {led['detail']}"
    return f"Ledger verification unavailable: {led['detail']}"


def _pr_aa_01(f: Figures) -> Control:
    c, p = f.credentials, f.propagation
    ok = c["completed_with_secret_still_stored"] == 0
    return Control(
        "PR.AA-01",
        "NIST CSF 2.0",
        "Identities and credentials for authorized users, services and hardware are managed",
        ("met" if ok else "attention") if f.recoveries["total"] else "no_data",
        (
            f"{f.recoveries['total']} recovery case(s) opened; "
            f"states: {counts(f.recoveries['by_state'])}.",
            f"{c['tokens_issued']} one-time reset token(s) issued, "
            f"{c['tokens_redeemed']} redeemed, "
            f"{c['tokens_rejected']} rejected.",
            f"{p['receipts']} propagation receipt(s) across systems; failed per system: "
            f"{counts(p['failed_receipts_by_target'])}.",
            f"{c['completed_with_secret_still_stored']} completed case(s) "
            "still hold a sealed secret.",
        ),
    )


def _pr_aa_02(f: Figures) -> Control:
    pr = f.proofing
    return Control(
        "PR.AA-02",
        "NIST CSF 2.0",
        "Identities are proofed and bound to credentials based on the context of interactions",
        "met" if pr["attempts"] else "no_data",
        (
            f"{pr['attempts']} proofing attempt(s), {pr['failures']} failed "
            f"(by method: {counts(pr['failures_by_method'])}).",
            f"Passes by method: {counts(pr['passes_by_method'])}; "
            f"{pr['phishing_resistant_passes']} phishing-resistant.",
            "Every case froze its tier's proofing requirement and policy hash when it opened.",
        ),
    )


def _sod_control(id_: str, framework: str, title: str) -> Callable[[Figures], Control]:
    def build(f: Figures) -> Control:
        s, d = f.separation_of_duties, f.dual_control
        status: Status = "attention" if s["violations"] else "met"
        if not f.recoveries["total"]:
            status = "no_data"
        return Control(
            id_,
            framework,
            title,
            status,
            (
                f"{s['violations']} case(s) where an approver was also "
                "requester, executor or subject.",
                f"{s['cases_requiring_approval']} case(s) required approval; "
                f"{s['cases_with_quorum']} reached their quorum.",
                f"Share of completed recoveries under dual control: {_pct(d['share'])} "
                f"({d['with_independent_approval']} of {d['completed']}).",
            ),
        )

    return build


def _ia_5(f: Figures) -> Control:
    c, t = f.credentials, f.time_to_restore
    return Control(
        "IA-5",
        "NIST SP 800-53",
        "Authenticator management",
        "met" if c["completed_with_secret_still_stored"] == 0 else "attention",
        (
            f"{c['tokens_issued']} reset token(s) and {c['temp_passwords_issued']} temporary "
            "password(s) issued; the subject chooses the password, no operator sees it.",
            f"{c['secrets_wiped']} sealed secret(s) wiped after propagation.",
            f"Time to restore: median {duration(t['median_s'])}, p95 {duration(t['p95_s'])} "
            f"over {t['completed']} completed case(s).",
        ),
    )


def _ac_3_2(f: Figures) -> Control:
    s = f.separation_of_duties
    gap = s["cases_requiring_approval"] - s["cases_with_quorum"]
    return Control(
        "AC-3(2)",
        "NIST SP 800-53",
        "Access enforcement: dual authorization",
        "no_data" if not s["cases_requiring_approval"] else "met",
        (
            f"{s['cases_requiring_approval']} case(s) whose tier required approval; "
            f"{s['cases_with_quorum']} approved by their quorum, {gap} still waiting or refused.",
            f"{s['approvals_recorded']} approval(s) recorded, each by a distinct person.",
        ),
    )


def _au_2(f: Figures) -> Control:
    a = f.audit_trail
    return Control(
        "AU-2",
        "NIST SP 800-53",
        "Event logging",
        "met" if a["entries"] else "no_data",
        (
            f"{a['entries']} ledger entries of {a['event_types']} type(s); "
            f"by source: {counts(a['by_source'])}.",
            f"{a['proofing_attempts_logged']} proofing attempt(s) and "
            f"{a['admin_actions_logged']} administrative action(s) logged.",
        ),
    )


def _au_3(f: Figures) -> Control:
    a = f.audit_trail
    return Control(
        "AU-3",
        "NIST SP 800-53",
        "Content of audit records",
        ("attention" if a["incomplete_entries"] else "met") if a["entries"] else "no_data",
        (
            "Every entry carries type, UTC time, source, actor, subject, case, outcome and reason.",
            f"{a['incomplete_entries']} of {a['entries']} entries miss a required field.",
        ),
    )


def _au_9(f: Figures) -> Control:
    return Control(
        "AU-9",
        "NIST SP 800-53",
        "Protection of audit information",
        _ledger_ok(f),
        (
            _ledger_line(f),
            "Entries are append-only in a Merkle tree (RFC 9162) with Ed25519-signed tree heads; "
            "events are also shipped to SIEMs as OCSF.",
        ),
    )


def _au_10(f: Figures) -> Control:
    s = f.separation_of_duties
    return Control(
        "AU-10",
        "NIST SP 800-53",
        "Non-repudiation",
        _ledger_ok(f),
        (
            f"{s['approvals_recorded']} approval(s) bound to an authenticated operator and person.",
            _ledger_line(f),
        ),
    )


def _nhi_03(f: Figures) -> Control:
    c = f.credentials
    ok = c["completed_with_secret_still_stored"] == 0
    return Control(
        "NHI-03",
        "OWASP NHI Top 10 (2025)",
        "Recovery paths must not expose secrets",
        "met" if ok else "attention",
        (
            "Operators never see or set a secret; the secret is held sealed (AES-GCM) only "
            "until the last receipt is final; the ledger and SIEM events hold no secret.",
            f"{c['secrets_wiped']} secret(s) wiped; "
            f"{c['completed_with_secret_still_stored']} completed case(s) still holding one.",
        ),
    )


def _govern(f: Figures) -> Control:
    g = f.governance
    return Control(
        "GOVERN",
        "NIST AI RMF 1.0",
        "Governance of automated and delegated recovery decisions",
        "met" if g["policy_versions"] else "no_data",
        (
            f"Policy versions in force: {len(g['policy_versions'])} "
            f"({', '.join(h[:19] for h in g['policy_versions']) or 'none'}).",
            f"Risk bands assigned by the risk engine: {counts(g['risk_bands'])}.",
            f"Actions by actor kind: {counts(g['actions_by_actor_kind'])}; "
            f"{g['self_service_executed_by_system']} self-service case(s) "
            "executed by Custos itself.",
            f"Exceptions used: {f.exceptions['used']}; active: "
            f"{', '.join(e['id'] for e in f.exceptions['active']) or 'none'}; expired: "
            f"{', '.join(e['id'] for e in f.exceptions['expired']) or 'none'}. "
            f"{f.exceptions['note']}",
        ),
    )


BUILDERS: tuple[Callable[[Figures], Control], ...] = (
    _pr_aa_01,
    _pr_aa_02,
    _sod_control(
        "PR.AA-05",
        "NIST CSF 2.0",
        "Access permissions and authorizations follow least privilege and separation of duties",
    ),
    _ia_5,
    _ac_3_2,
    _sod_control("AC-5", "NIST SP 800-53", "Separation of duties"),
    _au_2,
    _au_3,
    _au_9,
    _au_10,
    _nhi_03,
    _govern,
)


def controls(figures: Figures) -> list[Control]:
    """Every control of the report, in presentation order."""
    return [build(figures) for build in BUILDERS]
