"""Validation gates: the subtask's own commands plus configured test/lint commands.

A gate is a shell command run in the worktree; its exit status is the verdict.
Output goes to a log file beside the reviews, only its tail travels back.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import time
from pathlib import Path

from temporalio import activity

from contracts.build import GateCommand, GateRequest, GateResult

HEARTBEAT_S = 5.0
SECRET_NAMES = re.compile(r"(TOKEN|SECRET|PASSWORD|API_KEY|_KEY)$|^ANTHROPIC_|^GITHUB_TOKEN$", re.I)


def clean_env() -> dict[str, str]:
    """The worker's environment minus anything that looks like a secret.

    The worker's own interpreter directory leads PATH, so `python` and `pytest`
    in a gate mean the environment the orchestrator was installed into.
    """
    env = {k: v for k, v in os.environ.items() if not SECRET_NAMES.search(k)}
    bindir = os.path.dirname(sys.executable)
    env["PATH"] = os.pathsep.join([bindir, env.get("PATH", os.defpath)])
    env.pop("PYTHONPATH", None)
    return env


def slug(command: str) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "-", command).strip("-")[:60] or "command"


async def run_one(request: GateRequest, index: int, command: str) -> GateCommand:
    log_path = Path(request.log_dir) / f"{index:02d}-{slug(command)}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    proc = await asyncio.create_subprocess_shell(
        command,
        cwd=request.workdir,
        env=clean_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    chunks: list[bytes] = []
    size = 0

    async def read() -> None:
        nonlocal size
        assert proc.stdout
        while data := await proc.stdout.read(65536):
            if size < request.output_limit:
                chunks.append(data[: request.output_limit - size])
            size += len(data)

    reader = asyncio.create_task(read())
    exit_code: int | None
    try:
        deadline = started + request.timeout_s
        while True:
            try:
                exit_code = await asyncio.wait_for(proc.wait(), timeout=_beat_interval())
                break
            except TimeoutError:
                activity.heartbeat(f"gate {command}")  # cancellation arrives with its answer
                if time.monotonic() > deadline:
                    await _kill(proc)
                    exit_code = None
                    chunks.append(f"\n[timed out after {request.timeout_s:.0f}s]\n".encode())
                    break
        await reader
    except asyncio.CancelledError:
        # Cancelled: the command's whole process group dies, and no log is written.
        reader.cancel()
        await _kill(proc)
        raise
    output = b"".join(chunks).decode(errors="replace")
    if size > request.output_limit:
        output += f"\n[output truncated: {size} bytes]\n"
    if activity.is_cancelled():
        raise asyncio.CancelledError("gates cancelled")
    log_path.write_text(f"$ {command}\n{output}\n[exit {exit_code}]\n", encoding="utf-8")
    return GateCommand(
        command=command,
        exit_code=exit_code,
        passed=exit_code == 0,
        duration_s=round(time.monotonic() - started, 3),
        log_path=str(log_path),
        tail="\n".join(output.strip().splitlines()[-15:]),
    )


def _beat_interval() -> float:
    """Heartbeat often enough that a cancellation arrives within seconds."""
    timeout = activity.info().heartbeat_timeout
    return max(0.2, min(HEARTBEAT_S, timeout.total_seconds() / 2 if timeout else HEARTBEAT_S))


async def _kill(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL the command's process group and reap it (a second cancel does not stop this)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    waiting = asyncio.ensure_future(proc.wait())
    deadline = time.monotonic() + 5  # an unkillable process (D state) must not hang the worker
    while not waiting.done() and time.monotonic() < deadline:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait({waiting}, timeout=max(0.0, deadline - time.monotonic()))


@activity.defn(name="gates.run")
async def run_gates(request: GateRequest) -> GateResult:
    """Run every gate (sequentially: tests and linters often share caches)."""
    results = []
    for index, command in enumerate(request.commands, start=1):
        if activity.is_cancelled():
            raise asyncio.CancelledError("gates cancelled")
        activity.heartbeat(f"gate {index}/{len(request.commands)}: {command}")
        results.append(await run_one(request, index, command))
    return GateResult(results=results)


ACTIVITIES = [run_gates]
