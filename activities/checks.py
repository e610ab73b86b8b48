"""Seed 003's checks on every subtask, in its review round, before its pull request.

The smell checks integration runs over the whole feature (every promised file
exists, no conflict markers, no TODO/FIXME/placeholder/mock code outside tests,
imports resolve) run here over the subtask's own work: what its commits wrote,
not its base's or its dependencies'. They come back as gates, so the subtask's
own fixer repairs them and its PR never opens with them red.
"""

from __future__ import annotations

import asyncio
from pathlib import Path, PurePosixPath

from temporalio import activity

from activities import gates, lint, sandbox
from activities.agents.errors import non_retryable
from activities.agents.loop import Heartbeater
from activities.git.activities import git_errors
from activities.integration import smells
from activities.integration.activities import smell_gates
from contracts.build import GateCommand, GateRequest, GateResult
from contracts.checks import ChecksRequest, LintRequest


@activity.defn(name="checks.run")
async def run_checks(req: ChecksRequest) -> GateResult:
    results = []
    if req.smells is not None:
        results += await smell_gates(req.smells, where="on this branch")
    if req.lint is not None:
        results += await lint_gates(req.lint)
    return GateResult(results=results)


async def lint_gates(req: LintRequest) -> list[GateCommand]:
    """Each linter on the changed files of its languages, in the sandbox; one it needs but
    cannot find holds for a person (LinterMissing)."""
    root = Path(req.worktree)
    async with Heartbeater() as beat:
        beat.beat(step="lint: changed files")
        with git_errors():
            bases = await asyncio.to_thread(
                smells.resolve_bases, req.worktree, [req.base, *req.bases]
            )
            changed = await asyncio.to_thread(smells.changed_files, req.worktree, bases)
    run = [
        (linter, where, files)
        for linter, where in await asyncio.to_thread(lint.chosen, root, req.linters)
        if (files := [f for f in changed if PurePosixPath(f).suffix in linter.suffixes])
    ]
    if not run:
        return []
    try:
        await sandbox.ensure_available(req.sandbox)
    except sandbox.SandboxUnavailable as exc:
        raise non_retryable(f"lint runs commands, and {exc}", "SandboxUnavailable") from exc
    results = []
    for linter, where, files in run:
        command = lint.command_line(linter, root, files)
        request = GateRequest(
            workdir=req.worktree,
            commands=[command],
            log_dir=req.log_dir,
            timeout_s=req.timeout_s,
            output_limit=req.output_limit,
            sandbox=req.sandbox,
        )
        result = await gates.run_one(
            request, Path(req.log_dir) / f"lint-{linter.name}.log", command
        )
        if result.exit_code == lint.MISSING and f"{linter.name} is not installed" in result.tail:
            raise non_retryable(lint.missing_message(linter, where), "LinterMissing")
        results.append(
            result.model_copy(update={"command": f"lint: {linter.name}", "kind": "lint"})
        )
    return results


ACTIVITIES = [run_checks]
