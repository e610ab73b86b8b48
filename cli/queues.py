"""A loop's queries need a worker on the loop's own task queue.

The demo runs its loops on a task queue of its own, served by a worker inside the
demo's process; after the demo, `metrics` advised starting a worker although one
ran (on the default queue), and `status` of a loop left running there waited on a
query nobody could answer. Here the CLI finds the loop's queue and serves a
finished loop's queries itself, or names the queue and what to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
from collections.abc import Awaitable, Callable
from typing import TypeVar

from temporalio.client import Client, WorkflowExecutionDescription, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from activities.child_workflows import live_pollers
from cli.common import CliError
from cli.output import orchestrator_prog
from contracts.version import TASK_QUEUE, older_loop, older_version

T = TypeVar("T")

# The server answers CANCELLED when it could hand a query to no live worker: "Timeout
# expired" after waiting (none polls), or "context canceled" at once (it went to the poll of
# a worker that had just died, before the server noticed).
QUICK_FAILURE_S = 5.0


async def answered(workflow_id: str, ask: Callable[[], Awaitable[T]]) -> T:
    """A query a person asked for: asked once more when it failed at once (a worker that has
    just died; its successor answers), otherwise explained instead of a bare RPC error."""
    loop = asyncio.get_running_loop()
    for attempt in (1, 2):
        started = loop.time()
        try:
            return await ask()
        except RPCError as err:
            if err.status != RPCStatusCode.CANCELLED:
                raise
            if attempt == 1 and loop.time() - started < QUICK_FAILURE_S:
                await asyncio.sleep(1.0)
                continue
            raise CliError(
                f"no worker answered the query to {workflow_id} (Temporal: {err.message}); the "
                "loop keeps its state and waits for one. Fix: make sure a worker runs "
                f"(`{orchestrator_prog()} worker`, or the process that started the loop), "
                "then ask again"
            ) from err
    raise AssertionError("unreachable")


async def unserved(client: Client, desc: WorkflowExecutionDescription) -> str | None:
    """What stops a running loop's queries (no worker polls its queue, which is not the
    default one the CLI starts a worker for); None when nothing does."""
    queue = desc.task_queue
    older = older_loop(desc.id, queue)
    if older:
        return older
    if queue == TASK_QUEUE or await live_pollers(client, queue):
        return None
    prog = orchestrator_prog()
    return (
        f"{desc.id} runs on task queue {queue}, which no worker polls (the process that "
        "started it, such as `orchestrator demo`, has ended): nothing advances it or answers "
        f"for it. Fix: `{prog} demo --clean` ends what a demo left running; or serve it: "
        f"`{prog} worker --task-queue {shlex.quote(queue)}`"
    )


async def serve_queries(
    client: Client, desc: WorkflowExecutionDescription, stack: contextlib.AsyncExitStack
) -> str | None:
    """Let a finished loop on another queue answer queries (a worker of workflows only, in
    this process, while the command runs). None when served; else why not, with the fix."""
    queue = desc.task_queue
    if older_version(queue) is not None:
        # Answering a query replays the history: this release's code cannot.
        return older_loop(desc.id, queue)
    if queue == TASK_QUEUE or await live_pollers(client, queue):
        return None
    if desc.status == WorkflowExecutionStatus.RUNNING:
        return await unserved(client, desc)
    query = f"TaskQueue = '{queue}' AND ExecutionStatus = 'Running'"
    async for other in client.list_workflows(query, limit=1):
        # A worker here would resume it, without the stand-ins and settings it ran with.
        return f"task queue {queue} of {desc.id} also holds {other.id}, still running. " + (
            f"Fix: `{orchestrator_prog()} demo --clean`, then ask again"
        )
    from worker import workflows

    # Workflows only: replaying a closed loop runs no activity, and none may run here.
    await stack.enter_async_context(Worker(client, task_queue=queue, workflows=workflows()))
    return None
