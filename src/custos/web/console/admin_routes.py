"""The administration pages (docs/console.md#administration), for the admin role
only: the active policy and its file checked as ``custos policy check`` checks
it, a candidate policy simulated over the recorded cases as ``custos policy
simulate`` does, the connected targets with a connection test. Read-only: the
test changes nothing on the target, the simulation nothing at all."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from fastapi.responses import HTMLResponse

from custos.domain.errors import InvalidInput
from custos.policy.loader import PolicyError
from custos.policy.simulate import SimulationReport
from custos.policy.simulation_period import DEFAULT_SINCE, MAX_LENGTH
from custos.service.console.administration import require_admin
from custos.service.console.connector_probe import ProbeRun, probe_target
from custos.service.console.connector_summary import target_summaries
from custos.service.console.policy_status import policy_status
from custos.service.console.policy_summary import defaults, holds, risk_bands, summarize
from custos.service.console.sessions import ConsoleContext
from custos.service.policy.simulation import MAX_POLICY_BYTES, simulate_in_console
from custos.web.console.session import CheckedDep, ConsoleDep, page_context, services
from custos.web.rendering import render

router = APIRouter(include_in_schema=False)

TargetName = Annotated[str, Path(min_length=1, max_length=100)]
Bound = Annotated[str, Form(max_length=MAX_LENGTH)]
#: The most cases of each list (changed, unchanged) the result page shows.
SHOWN_CASES = 500
#: The name a pasted candidate goes by in its problems (``pasted policy:7: ...``).
PASTED = "pasted policy"


@router.get("/console/admin", response_class=HTMLResponse)
def admin_home(request: Request, ctx: ConsoleDep) -> HTMLResponse:
    require_admin(ctx.operator)
    return render(
        request, "console/admin/index.html", **page_context(request, ctx, "Administration")
    )


@router.get("/console/admin/policy", response_class=HTMLResponse)
def policy_page(request: Request, ctx: ConsoleDep) -> HTMLResponse:
    require_admin(ctx.operator)
    return _policy(request, ctx, form={"since": DEFAULT_SINCE, "until": "", "text": ""})


@router.post("/console/admin/policy/simulate", response_class=HTMLResponse)
def simulate_policy(
    request: Request,
    ctx: CheckedDep,
    policy_text: Annotated[str, Form(max_length=MAX_POLICY_BYTES)] = "",
    policy_file: Annotated[UploadFile | None, File()] = None,
    since: Bound = DEFAULT_SINCE,
    until: Bound = "",
) -> HTMLResponse:
    """Replay the period's cases under the pasted or uploaded candidate. htmx
    swaps the result (or the candidate's problems) in under the form; a browser
    without script gets the whole policy page with the result in place."""
    require_admin(ctx.operator)
    form = {"since": since, "until": until, "text": policy_text}
    result: dict[str, Any] = {}
    try:
        text, source = _candidate(policy_text, policy_file)
        report = simulate_in_console(
            services(request), ctx.operator, text=text, source=source, since=since, until=until
        )
        result["sim"] = _shown(report)
    except PolicyError as exc:
        result["problems"] = exc.problems
        result["problem_source"] = exc.problems[0].source
    except InvalidInput as exc:
        result["failure"] = exc.message
    status = 200 if "sim" in result else 422
    if request.headers.get("hx-request"):
        return render(request, "console/admin/_simulation.html", status_code=status, result=result)
    return _policy(request, ctx, form=form, result=result, status_code=status)


def _candidate(pasted: str, upload: UploadFile | None) -> tuple[str, str]:
    """The candidate's text and the name its problems go by: the uploaded file
    (UTF-8, at most MAX_POLICY_BYTES) or the pasted text, not both. Raises
    InvalidInput."""
    if upload is None or not upload.filename:
        return pasted, PASTED
    data = upload.file.read(MAX_POLICY_BYTES + 1)
    if not data:
        return pasted, PASTED
    if pasted.strip():
        raise InvalidInput("choose a file or paste a policy, not both")
    if len(data) > MAX_POLICY_BYTES:
        raise InvalidInput(f"a candidate policy may be at most {MAX_POLICY_BYTES // 1024} KB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the candidate policy file is not UTF-8 text") from None
    name = upload.filename.replace("\\", "/").rsplit("/", 1)[-1][:100]
    return text, name or PASTED


def _shown(report: SimulationReport) -> dict[str, Any]:
    """What the result shows: the report, its changed and unchanged cases (at
    most SHOWN_CASES each)."""
    changed = report.changed
    unchanged = [c for c in report.cases if c not in changed]
    return {
        "report": report,
        "changed": changed[:SHOWN_CASES],
        "unchanged": unchanged[:SHOWN_CASES],
        "changed_count": len(changed),
        "unchanged_count": len(unchanged),
        "limit": SHOWN_CASES,
    }


def _policy(
    request: Request,
    ctx: ConsoleContext,
    *,
    form: dict[str, str],
    result: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    svc = services(request)
    document = svc.policy.document
    return render(
        request,
        "console/admin/policy.html",
        status_code=status_code,
        **page_context(request, ctx, "Recovery policy"),
        status=policy_status(svc),
        tiers=summarize(document, svc.registry.capability_map()),
        bands=risk_bands(document),
        defaults=defaults(document),
        holds=holds(document),
        form=form,
        result=result or {},
        max_kb=MAX_POLICY_BYTES // 1024,
    )


@router.get("/console/admin/connectors", response_class=HTMLResponse)
def connectors_page(request: Request, ctx: ConsoleDep) -> HTMLResponse:
    require_admin(ctx.operator)
    return _connectors(request, ctx, runs={})


@router.post("/console/admin/connectors/{name}/test", response_class=HTMLResponse)
def test_connector(request: Request, ctx: CheckedDep, name: TargetName) -> HTMLResponse:
    """htmx swaps the answer into the target's result region; a browser without
    script gets the whole page with the result in place."""
    require_admin(ctx.operator)
    run = probe_target(services(request), ctx.operator, name)
    if request.headers.get("hx-request"):
        return render(request, "console/admin/_probe.html", run=run)
    return _connectors(request, ctx, runs={name: run})


def _connectors(request: Request, ctx: ConsoleDep, *, runs: dict[str, ProbeRun]) -> HTMLResponse:
    return render(
        request,
        "console/admin/connectors.html",
        **page_context(request, ctx, "Connected systems"),
        targets=target_summaries(services(request)),
        runs=runs,
    )
