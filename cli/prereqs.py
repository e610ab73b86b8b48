"""Prerequisites checked before anything starts: a loop whose agents will run commands
on this machine needs its sandbox (bubblewrap on Linux).

Without it the loop used to start, hold at its first shell command, and (in the
demo) say nothing. Now `demo`, `design`, `build` and `worker` stop first, in one
line, with the fix.
"""

from __future__ import annotations

import asyncio
import socket

from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.child_workflows import live_pollers
from activities.sandbox.runner import unavailable
from contracts.version import TASK_QUEUE


def sandbox_mode(design_dir: str) -> str:
    """`[sandbox] mode` of the repository holding `design_dir` ("os" when unreadable: the
    configuration's own check reports that)."""
    from activities.config import resolve_project

    try:
        return resolve_project(design_dir).config.sandbox.mode
    except ApplicationError:  # check_project reports a bad configuration
        return "os"


async def runs_here(client: Client, task_queue: str = TASK_QUEUE) -> bool:
    """Whether this machine's workers run the loop: some poll here, or none polls at all (the
    CLI starts one here). Workers elsewhere check their own sandbox when they start."""
    pollers = await live_pollers(client, task_queue)
    host = socket.gethostname()
    return not pollers or any(p.partition("@")[2] == host for p in pollers)


async def check_sandbox(client: Client, design_dir: str, verb: str) -> str | None:
    """The refusal (one line, with the fix) when `verb`'s agents cannot be confined here."""
    if sandbox_mode(design_dir) == "none" or not await runs_here(client):
        return None
    problem = await asyncio.to_thread(unavailable)
    if problem is None:
        return None
    return (
        f"`{verb}` stops before starting anything: its agents and gates run in a sandbox, "
        f"and {problem}"
    )
