"""``custos audit`` (verify, head, proof, keys), ``custos evidence`` (export,
verify) and ``custos keys rotate-ledger``. There is no command that deletes or
rewrites a ledger entry (R-38)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from custos.cli.context import command_group, console, err_console, escape, fail, failures, state
from custos.cli.output_file import OutputFile
from custos.domain.errors import DomainError, InvalidInput

audit_app = command_group("The tamper-evident ledger.")
evidence_app = command_group("Evidence packs that verify offline.")

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    as_json: JsonOpt = False,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=256,
            help="Processes that scan aligned ranges of the ledger in parallel. "
            "Default: one per available CPU.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Recompute the ledger from the store and check every signed and witnessed
    head; exit 1 on any problem (and raise the tamper alert)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from custos.ledger.audit import audit_ledger

    with failures():
        svc = state(ctx).services()
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err_console.real,
            transient=True,
            disable=as_json,
        ) as bar:
            task = bar.add_task("verifying ledger", total=None)
            report = audit_ledger(
                svc,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
                workers=workers,
            )
    if as_json:
        console.print_json(json.dumps(report.to_json()))
    else:
        for problem in report.problems:
            err_console.print(f"[red]{problem.kind}[/]: {escape(problem.message)}", soft_wrap=True)
        verdict = "intact" if report.ok else f"BROKEN ({len(report.problems)} problem(s))"
        console.print(
            f"ledger {verdict}: {report.entries} entries, root {report.root_hash}, "
            f"{report.heads_checked} signed head(s), {report.witnessed_checked} witnessed",
            soft_wrap=True,
        )
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("head")
def audit_head(ctx: typer.Context) -> None:
    """Sign a tree head now and publish it to the witnesses."""
    from custos.ledger.heads import sign_tree_head

    with failures():
        head = sign_tree_head(state(ctx).services())
    console.print_json(json.dumps(head.to_json()))


@audit_app.command("keys")
def audit_keys(
    ctx: typer.Context,
    export: Annotated[
        Path | None,
        typer.Option(
            help="Also write <key_id>.pem files into this folder "
            "(for 'custos evidence verify --key FOLDER' and 'audit proof --key')."
        ),
    ] = None,
) -> None:
    """The public keys that sign tree heads (the last one is active). Auditors
    check evidence packs and proofs with them."""
    from rich.table import Table

    from custos.ledger.signing import KeyRing

    with failures():
        keys = KeyRing(state(ctx).settings().effective_ledger_keys_dir).all_keys()
    table = Table(title=f"{len(keys)} ledger key(s)")
    for column in ("key id", "created (UTC)", "active"):
        table.add_column(column)
    for i, key in enumerate(keys):
        table.add_row(key.key_id, key.created_at, "yes" if i == len(keys) - 1 else "")
    console.print(table)
    for key in keys:
        console.print(key.pem, markup=False)
    if export is not None:
        with failures():
            export.mkdir(parents=True, exist_ok=True)
            for key in keys:
                (export / f"{key.key_id}.pem").write_text(key.pem, encoding="ascii")


class ProofUnavailable(DomainError):
    """The server named with --server gave no entry or keys to check."""

    error_id = "proof_unavailable"


class InsecureTransport(InvalidInput):
    """An API token would go to a remote server over plain http."""

    error_id = "insecure_transport"


@audit_app.command("proof")
def audit_proof(
    ctx: typer.Context,
    seq: int,
    tree_size: Annotated[int | None, typer.Option(help="Prove against this signed head.")] = None,
    server: Annotated[
        str | None, typer.Option(help="Fetch the proof from this Custos API instead.")
    ] = None,
    token: Annotated[str | None, typer.Option(envvar="CUSTOS_TOKEN", help="API token.")] = None,
    key: Annotated[Path | None, typer.Option(help="Trusted public key (PEM).")] = None,
) -> None:
    """Fetch entry SEQ with its inclusion proof and verify it locally: leaf hash,
    path to the signed root, and the head's signature."""
    from custos.ledger.heads import key_ring
    from custos.ledger.proofs import check_entry_proof, entry_with_proof
    from custos.ledger.signing import key_id_of, load_public_key

    with failures():
        if server is None:
            svc = state(ctx).services()
            # The CLI is the local administrator: it reads every entry (no scope).
            answer = entry_with_proof(svc, seq, reader=None, tree_size=tree_size)
            keys = key_ring(svc).public_keys()
        else:
            answer = _fetch(server, token, seq, tree_size)
            keys = {}
        if key is not None:
            public = load_public_key(key.read_bytes())
            keys = {key_id_of(public): public}
        elif server is not None:
            keys = _server_keys(server)
            err_console.print("note: the head is checked with keys the server published")
    problems = check_entry_proof(answer, keys)
    head = answer["tree_head"]
    console.print(
        f"entry seq {seq} (index {answer['leaf_index']}) against the head of size "
        f"{head['tree_size']} signed by {head['key_id']} at {head['signed_at']}"
    )
    for problem in problems:
        fail("proof_invalid", problem)
    if problems:
        raise typer.Exit(1)
    console.print(f"inclusion proof verified ({len(answer['inclusion_proof'])} hashes)")


def _server_url(server: str, token: str | None) -> str:
    """``server`` without its trailing slash, once it is an http(s) address.
    A token goes over https only, or plain http to this machine."""
    from urllib.parse import urlsplit

    from custos.config import is_loopback_host

    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(
            "--server must be an http(s) address such as https://custos.example.org, "
            f"not {server[:100]!r}"
        )
    if token and parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise InsecureTransport(
            "the API token would travel in clear: give an https:// address "
            "(plain http only to this machine)"
        )
    return server.rstrip("/")


def _get_json(url: str, headers: dict[str, str], params: dict[str, int]) -> Any:
    """The JSON a GET of ``url`` answers. Raises ProofUnavailable for an error
    status or an answer that is not JSON."""
    import httpx

    response = httpx.get(url, headers=headers, params=params, timeout=30)
    if not response.is_success:
        raise ProofUnavailable(f"{url} answered {response.status_code}: {response.text[:300]}")
    try:
        return response.json()
    except ValueError:
        raise ProofUnavailable(f"{url} did not answer JSON: is it a Custos API?") from None


def _fetch(server: str, token: str | None, seq: int, tree_size: int | None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    params = {"tree_size": tree_size} if tree_size else {}
    data = _get_json(f"{_server_url(server, token)}/api/v1/ledger/entries/{seq}", headers, params)
    if not isinstance(data, dict):
        raise ProofUnavailable("the server's answer is not an entry with its proof")
    return data


def _server_keys(server: str) -> dict[str, Any]:
    from custos.ledger.signing import load_public_key

    data = _get_json(f"{_server_url(server, None)}/api/v1/ledger/keys", {}, {})
    try:
        return {
            k["key_id"]: load_public_key(k["public_key_pem"].encode("ascii")) for k in data["keys"]
        }
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ProofUnavailable("the server's key list cannot be read") from None


def rotate_ledger(ctx: typer.Context) -> None:
    """Add a new ledger signing key (it becomes active; older keys still verify)."""
    from custos.ledger.rotation import rotate_ledger_key

    with failures():
        key = rotate_ledger_key(state(ctx).services())
    console.print(f"ledger key {key.key_id} is now active")
    console.print(key.pem, markup=False)


@evidence_app.command("export")
def evidence_export(
    ctx: typer.Context,
    case_id: str,
    output: Annotated[Path, typer.Option("--output", "-o", help="The zip to write.")],
) -> None:
    """Write the case's evidence pack (entries, proofs, signed head, key, policy,
    receipts, checks, summary)."""
    from custos.ledger.evidence import export_pack

    with failures(), OutputFile(output) as out:
        # The CLI is the local administrator: every case, no scope. The file
        # is proven writable before the export is recorded (cli/output_file.py).
        out.write(export_pack(state(ctx).services(), case_id, reader=None))
    console.print(f"evidence pack for {escape(case_id)} written to {escape(str(output))}")


KeyOpt = Annotated[
    Path | None,
    typer.Option(
        help="The trusted ledger public key: a PEM file, or a folder of them. "
        "'custos audit keys --export DIR' writes them on the deployment. "
        "Default: the deployment's ledger key folder (ledger_keys_dir, "
        "<data_dir>/ledger-keys) when run beside it.",
        show_default=False,
    ),
]


@evidence_app.command("verify")
def evidence_verify(ctx: typer.Context, pack: Path, key: KeyOpt = None) -> None:
    """Verify a pack offline (no database): exit 0 when it holds, 1 naming what fails.

    The head must be signed by a key you trust, never by the one inside the pack:
    give --key (from 'custos audit keys --export DIR' on the deployment, or the
    published PEM); beside the deployment the key matching the pack's head is
    taken from its ledger key folder."""
    from custos.ledger.pack_check import head_key_id, trusted_keys, verify_pack

    with failures():
        source = key if key is not None else state(ctx).settings().effective_ledger_keys_dir
        wanted = head_key_id(pack)
        if wanted is None:
            fail("evidence_invalid", f"{pack}: not a readable evidence pack (no signed head)")
            raise typer.Exit(1)
        keys = trusted_keys(source) if source.exists() else {}
        if key is not None and key.is_file():
            # One key given: check with it whatever the head names, so that the
            # report says which key signed and which one was given.
            public = next(iter(keys.values()))
        elif wanted in keys:
            public = keys[wanted]
            console.print(f"trusted key {wanted} from {source}", markup=False, soft_wrap=True)
        else:
            fail("no_trusted_key", _no_key(wanted, source, given=key is not None))
            raise typer.Exit(1)
    report = verify_pack(pack, public)
    for line in report.checked:
        console.print(f"ok: {escape(line)}", soft_wrap=True)
    for line in report.failures:
        fail("evidence_invalid", line)
    if not report.ok:
        err_console.print(f"evidence pack {pack} does NOT verify")
        raise typer.Exit(1)
    console.print(
        f"evidence pack verified: case {report.case_id}, {report.entries} entries, "
        f"tree size {report.tree_size}"
    )


def _no_key(wanted: str, source: Path, *, given: bool) -> str:
    where = f"{source} holds no key {wanted}" if source.exists() else f"{source} does not exist"
    default = "" if given else " (the default: this deployment's ledger key folder)"
    return (
        f"the pack's head is signed by ledger key {wanted}, and {where}{default}. "
        "Give --key with the ledger's public key, a PEM file or a folder of them: on the "
        "deployment, 'custos audit keys --export DIR' writes one <key_id>.pem per key; "
        "or use the PEM the operators published."
    )
