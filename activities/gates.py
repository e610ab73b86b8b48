"""Validation gates: the subtask's own commands plus configured test/lint commands.

A gate is a shell command run in the worktree, inside the sandbox, in the target
repository's own environment (its virtualenv; `[gates] setup` commands run once
per worktree first); its exit status is the verdict. Output streams to a private
file and is kept beside the reviews (never through a link); only its tail travels back.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import tempfile
from pathlib import Path

from temporalio import activity

from activities import files, sandbox, test_counts, tracing, worktree_changes
from activities.agents.errors import non_retryable
from activities.sandbox.paths import project_environment, worktree_git_dir
from contracts.build import GateCommand, GateRequest, GateResult

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0
SETUP_MARK = "orchestrator-gates-setup"


def slug(command: str) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "-", command).strip("-")[:60] or "command"


async def run_one(request: GateRequest, log_path: Path, command: str) -> GateCommand:
    """One gate in the sandbox, in the repository's environment; its log is kept."""
    workdir = Path(request.workdir)
    env = await asyncio.to_thread(project_environment, workdir)
    spec = sandbox.Spec(
        command=command,
        workdir=workdir,
        timeout_s=request.timeout_s,
        config=request.sandbox.model_copy(
            update={"output_limit_bytes": max(request.output_limit, 2)}
        ),
        path_first=tuple(env.path_first),
        read_only=env.read_only,
    )
    # A record path an agent made a link is refused before the command runs.
    await asyncio.to_thread(files.check_writable, log_path)
    # Streamed to a private file, copied beside the reviews when the gate ends (without
    # following links): a cancelled gate leaves no log behind.
    notes = "".join(f"[sandbox: {note}]\n" for note in env.notes)
    for note in env.notes:
        log.warning("gate %r: %s", command, note)
    with tempfile.TemporaryDirectory(prefix="gate-") as scratch:
        partial = Path(scratch) / "output.log"
        try:
            outcome = await sandbox.run(
                spec,
                partial,
                header=f"$ {command}\n{notes}",
                tick=lambda: activity.heartbeat(f"gate {command}"),
                tick_s=_beat_interval(),
            )
            if activity.is_cancelled():
                raise asyncio.CancelledError("gates cancelled")
        except sandbox.SandboxUnavailable as exc:
            raise non_retryable(f"gates run commands, and {exc}", "SandboxUnavailable") from exc
        exit_code = outcome.exit_code
        tail = outcome.tail_lines(15)
        with partial.open("a", encoding="utf-8") as out:
            if outcome.notice:
                out.write(f"\n[{outcome.notice}]\n")
            out.write(f"\n[exit {exit_code}]\n")
        await asyncio.to_thread(files.atomic_write_bytes, log_path, partial.read_bytes())
    return GateCommand(
        command=command,
        exit_code=exit_code,
        passed=exit_code == 0,
        duration_s=outcome.duration_s,
        log_path=str(log_path),
        tail=tail,
        tests=await asyncio.to_thread(test_counts.of_log, command, log_path),
    )


def _beat_interval() -> float:
    """Heartbeat often enough that a cancellation arrives within seconds."""
    timeout = activity.info().heartbeat_timeout
    return max(0.2, min(HEARTBEAT_S, timeout.total_seconds() / 2 if timeout else HEARTBEAT_S))


def _setup_mark(workdir: Path) -> Path | None:
    """Where "setup ran here" is recorded: the worktree's own git directory, which no
    command can write (it is read-only in the sandbox) and no commit carries."""
    git_dir = worktree_git_dir(workdir)
    return git_dir / SETUP_MARK if git_dir is not None else None


def _setup_key(setup: list[str]) -> str:
    return hashlib.sha256(json.dumps(setup).encode()).hexdigest()


async def _setup(request: GateRequest) -> GateCommand | None:
    """Run `[gates] setup` once per worktree (again only when the commands change).

    Returns the failing setup command as a failed gate, or None when all is set up.
    """
    if not request.setup:
        return None
    mark = _setup_mark(Path(request.workdir))
    key = _setup_key(request.setup)
    if mark is not None and mark.is_file() and mark.read_text(encoding="utf-8").strip() == key:
        return None
    for index, command in enumerate(request.setup, start=1):
        activity.heartbeat(f"gates setup {index}/{len(request.setup)}: {command}")
        log_path = Path(request.log_dir) / f"setup-{index:02d}-{slug(command)}.log"
        result = await run_one(request, log_path, command)
        if not result.passed:
            return result.model_copy(update={"command": f"[gates] setup: {command}"})
    if mark is not None:
        mark.write_text(key + "\n", encoding="utf-8")
    return None


@activity.defn(name="gates.run")
async def run_gates(request: GateRequest) -> GateResult:
    """Run every gate (sequentially: tests and linters often share caches).

    What the gates leave in a subtask's worktree (a coverage file, a build, a venv
    git would commit) is recorded as the orchestrator's: the next editor neither
    commits it nor takes it for a person's work.
    """
    try:
        await sandbox.ensure_available(request.sandbox)
    except sandbox.SandboxUnavailable as exc:
        raise non_retryable(f"gates run commands, and {exc}", "SandboxUnavailable") from exc
    workdir = Path(request.workdir)
    record = await asyncio.to_thread(_start_record, request)
    start = None
    if record is not None:
        start = await asyncio.to_thread(worktree_changes.noted, workdir, record, in_git_dir=True)
    try:
        return await _run_gates(request)
    finally:
        if record is not None and start is not None:  # a failed or cancelled run's too
            await asyncio.shield(asyncio.to_thread(_own, workdir, start, record))


def _own(workdir: Path, start: worktree_changes.Changes, record: Path) -> None:
    worktree_changes.own(workdir, start)
    record.unlink(missing_ok=True)


def _start_record(request: GateRequest) -> Path | None:
    """Where this run notes the worktree's changes before its first gate (a retried run
    compares against the same start): the worktree's own git directory."""
    workdir = Path(request.workdir)
    git_dir = worktree_git_dir(workdir)
    if git_dir is None or not worktree_changes.in_own_worktree(workdir):
        return None
    run = hashlib.sha256(request.log_dir.encode()).hexdigest()[:16]
    return git_dir / f"orchestrator-gates-{run}.json"


async def _run_gates(request: GateRequest) -> GateResult:
    failed_setup = await _setup(request)
    if failed_setup is not None:
        return GateResult(results=[failed_setup])
    results = []
    for index, command in enumerate(request.commands, start=1):
        if activity.is_cancelled():
            raise asyncio.CancelledError("gates cancelled")
        activity.heartbeat(f"gate {index}/{len(request.commands)}: {command}")
        log_path = Path(request.log_dir) / f"{index:02d}-{slug(command)}.log"
        results.append(await tracing.gate(command, run_one(request, log_path, command)))
    return GateResult(results=results)


ACTIVITIES = [run_gates]
