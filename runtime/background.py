"""A background worker for the local default, so `orchestrator design <dir>` just works.

Workflows only advance while a worker polls the task queue. When the user
runs against the embedded server and no worker is polling, the CLI starts one
in the background (logging to the orchestrator home) rather than leaving a
workflow silently stuck.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from temporalio.client import Client

from activities.child_workflows import live_pollers
from runtime.server import orchestrator_home, stop_process


async def has_pollers(client: Client, task_queue: str) -> bool:
    """Whether a worker may still poll `task_queue` (the server remembers a stopped one's
    poller for minutes; dead local ones and stale entries are ruled out)."""
    return bool(await live_pollers(client, task_queue))


def pid_file() -> Path:
    return orchestrator_home() / "worker.pid"


def spawn_worker(cwd: str | None = None) -> subprocess.Popen[bytes]:
    log = open(orchestrator_home() / "worker.log", "ab")  # handed to the child
    process = subprocess.Popen(
        # The CLI checked the sandbox for the loop it starts; a step that still lacks one
        # holds visibly, so this worker need not refuse to start.
        [sys.executable, "-m", "worker", "--without-sandbox"],
        cwd=cwd or os.getcwd(),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    log.close()
    pid_file().write_text(str(process.pid))
    return process


async def ensure_worker(client: Client, task_queue: str, wait_s: float = 30.0) -> bool:
    """Start a background worker when nobody polls; True when one was started."""
    if await has_pollers(client, task_queue):
        return False
    print(
        f"No worker polls task queue {task_queue!r}: starting one in the background "
        f"(log {orchestrator_home() / 'worker.log'}; stop it with `orchestrator stop`).",
        file=sys.stderr,
    )
    process = spawn_worker()
    deadline = asyncio.get_running_loop().time() + wait_s
    while asyncio.get_running_loop().time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the background worker exited ({process.returncode}); "
                f"see {orchestrator_home() / 'worker.log'}"
            )
        if await has_pollers(client, task_queue):
            return True
        await asyncio.sleep(0.3)
    raise RuntimeError("the background worker did not start polling in time; see worker.log")


def stop_background_worker() -> int | None:
    """Stop the worker the CLI started in the background; its pid, or None when none ran."""
    return stop_process(pid_file(), "worker")
