"""Integration activities: merge in DAG order, smell checks, own work, INTEGRATION.md.

Each is idempotent: a retried merge finds merged branches already in HEAD, the
smell checks only read, an empty branch already deleted is not deleted again, the
report is rewritten whole.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from temporalio import activity

from activities import gates, sandbox
from activities.agents.errors import non_retryable
from activities.agents.loop import Heartbeater
from activities.files import atomic_write_text
from activities.git.activities import git_errors, heartbeating
from activities.integration import merge, nothing, report, smells
from contracts.build import GateCommand, GateRequest, GateResult
from contracts.integration import (
    IntegrateRequest,
    IntegrateResult,
    IntegrationReport,
    OwnWork,
    OwnWorkRequest,
    SmellFinding,
    SmellRequest,
)


@activity.defn(name="integration.merge")
def merge_branches(req: IntegrateRequest) -> IntegrateResult:
    """Merge the subtask branches in order; a conflict is committed for the integrator."""
    with heartbeating(f"merge into {req.branch}"), git_errors():
        return merge.integrate(req)


@activity.defn(name="integration.own_work")
def own_work(req: OwnWorkRequest) -> OwnWork:
    """What the integration branch holds beyond the base (nothing: no PR to open)."""
    with heartbeating(f"{req.branch} against {req.base_branch}"), git_errors():
        return nothing.own_work(req)


@activity.defn(name="integration.smells")
async def smell_checks(req: SmellRequest) -> GateResult:
    """Seed 003's smell checks; third-party imports are looked up in the sandbox."""
    return GateResult(results=await smell_gates(req))


async def smell_gates(
    req: SmellRequest, where: str = "on the integrated branch"
) -> list[GateCommand]:
    """The four smell checks over what the work changed since `req.base` (and `req.bases`),
    each as a gate: promised files, conflict markers, TODO/FIXME markers, imports."""
    log_dir = Path(req.log_dir)
    async with Heartbeater() as beat:
        beat.beat(step="smell checks")
        with git_errors():
            findings, imports = await asyncio.to_thread(_findings, req, where)
    results = [
        smells.as_gate(check, findings, log_dir / f"smell-{n}.log")
        for n, check in enumerate(
            (smells.CHECK_FILES, smells.CHECK_CONFLICTS, smells.CHECK_MARKERS), start=1
        )
    ]
    imports_gate = smells.as_gate(smells.CHECK_IMPORTS, findings, log_dir / "smell-4.log")
    if imports.external and imports_gate.passed:
        imports_gate = await _external_imports(req, sorted(imports.external), log_dir)
    return [*results, imports_gate]


def _findings(req: SmellRequest, where: str) -> tuple[list[SmellFinding], smells.Imports]:
    worktree = Path(req.worktree)
    bases = smells.resolve_bases(req.worktree, [req.base, *req.bases])
    changed = smells.changed_files(req.worktree, bases)
    findings = [
        *smells.promised_missing(worktree, req.promised_files, where),
        *smells.smell_markers(req.worktree, bases, changed),
        *smells.conflict_markers(worktree, changed),
    ]
    imports = smells.Imports(worktree)
    for rel in changed:
        imports.check(rel)
    findings += imports.findings
    smells.attribute(
        findings, req.worktree, bases[0] if bases else req.base, req.branches, req.promised_files
    )
    return findings, imports


async def _external_imports(req: SmellRequest, names: list[str], log_dir: Path) -> GateCommand:
    """Third-party modules: found by the repository's own interpreter, in the sandbox."""
    command = f'python3 -c "{smells.FIND_SPEC}" {" ".join(names)}'
    request = GateRequest(
        workdir=req.worktree,
        commands=[command],
        log_dir=str(log_dir),
        timeout_s=req.timeout_s,
        sandbox=req.sandbox,
    )
    try:
        await sandbox.ensure_available(req.sandbox)
        result = await gates.run_one(request, log_dir / "smell-4.log", command)
    except sandbox.SandboxUnavailable as exc:
        raise non_retryable(f"smell checks run commands, and {exc}", "SandboxUnavailable") from exc
    return result.model_copy(update={"command": smells.CHECK_IMPORTS, "kind": "smell"})


@activity.defn(name="integration.write_report")
def write_integration_report(r: IntegrationReport) -> str:
    atomic_write_text(Path(r.path), report.render(r))
    return r.path


ACTIVITIES = [merge_branches, own_work, smell_checks, write_integration_report]
