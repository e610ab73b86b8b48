"""`orchestrator demo --clean`: remove earlier demos' directories and end what they left running.

Each demo writes a scratch directory under ~/.orchestrator/demo/ and runs its
loops on a task queue of its own, served only by its own process. When that
process ends without ending them (killed, or an older version), its loops stay
RUNNING on a queue nobody polls. This ends those and deletes the directories of
demos whose process is gone; a demo still running is left alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from pathlib import Path

from temporalio.client import Client
from temporalio.service import RPCError

from activities.child_workflows import live_pollers
from cli.common import CliError
from runtime.client import connect
from runtime.server import ServerError, orchestrator_home

QUEUE_PREFIX = "orchestrator-demo-"
MARKER = "demo.json"
STAMP = re.compile(r"^\d{8}-\d{6}$")  # the directory names `orchestrator demo` gives


async def end_leftovers(client: Client, queue: str | None = None) -> list[str]:
    """Terminate what runs on `queue`, or on any demo queue nobody polls; what was ended."""
    ended = []
    async for wf in client.list_workflows("ExecutionStatus = 'Running'"):
        q = wf.task_queue
        if queue is not None and q != queue:
            continue
        if queue is None and (not q.startswith(QUEUE_PREFIX) or await live_pollers(client, q)):
            continue
        with contextlib.suppress(RPCError):  # it closed meanwhile
            await client.get_workflow_handle(wf.id, run_id=wf.run_id).terminate(
                "left running by an ended `orchestrator demo`"
            )
            ended.append(f"ended {wf.id} (left running on task queue {q})")
    return ended


def in_use(directory: Path) -> bool:
    """A demo whose process still runs (its marker names a live pid)."""
    try:
        pid = int(json.loads((directory / MARKER).read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid != os.getpid()


async def clean(embedded: bool) -> int:
    root = orchestrator_home() / "demo"
    try:
        client = await connect(embedded=embedded)
    except ServerError as err:
        raise CliError(str(err)) from err
    for line in await end_leftovers(client):
        print(line)
    kept, removed = [], []
    for directory in sorted(root.iterdir()) if root.is_dir() else []:
        if not directory.is_dir() or not (
            STAMP.match(directory.name) or (directory / MARKER).exists()
        ):
            continue
        if in_use(directory):
            kept.append(directory)
            continue
        shutil.rmtree(directory)
        removed.append(directory)
    print(f"removed {len(removed)} demo director{'y' if len(removed) == 1 else 'ies'} under {root}")
    for directory in kept:
        print(f"kept {directory}: its demo is still running")
    return 0
