"""A workflow cancel that lands while the workflow sends a signal is not lost.

Seen on Ctrl-C in the demo: the build cancelled its subtask just as the subtask
reported a failure hold to it; the SDK took the cancel for "cancel that signal"
and the subtask held forever. A small workflow sends a signal through
`cancel_guard.send` (as the subtask's report and the build's messages to its
children do) or plainly; the real server delivers the cancel while the signal is
under way (the workflow's first task is held until the cancel has been asked for).
"""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import CancelledError
from temporalio.worker import Worker

from tests.support import until
from workflows import cancel_guard
from workflows.build import BuildWorkflow

GATES: dict[str, tuple[threading.Event, threading.Event]] = {}


@workflow.defn(sandboxed=False)
class Reporter:
    """Sends one signal to `target`, then waits for a person who never comes."""

    @workflow.run
    async def run(self, target: str, guarded: bool) -> str:
        main = asyncio.current_task()
        # Hold this first workflow task until the test has asked to cancel (test only; well
        # under the two seconds after which the worker would take it for a deadlock).
        entered, gate = GATES[workflow.info().workflow_id]
        entered.set()
        gate.wait(1.5)
        sent = workflow.get_external_workflow_handle(target).signal(
            BuildWorkflow.subtask_progress, "x"
        )
        if guarded:
            await cancel_guard.send(sent, main)
        else:
            await sent
        await workflow.wait_condition(lambda: False)
        return "unreachable"


async def task_done_after_cancel(handle: WorkflowHandle) -> bool:
    """The workflow has completed a task that carried the cancel request, and the signal."""
    seen: list[str] = []
    async for event in handle.fetch_history_events():
        seen.append(EventType.Name(event.event_type))
    cancel = "EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED"
    signaled = "EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED"
    if cancel not in seen or signaled not in seen:
        return False
    after = seen[max(seen.index(cancel), seen.index(signaled)) :]
    return "EVENT_TYPE_WORKFLOW_TASK_COMPLETED" in after


@pytest.mark.parametrize("guarded", [True, False], ids=["through-the-guard", "plain"])
async def test_a_cancel_during_a_signal_reaches_the_workflow(
    client: Client, task_queue: str, guarded: bool
) -> None:
    target = await client.start_workflow(
        "ParentStandIn", id=f"parent-{uuid.uuid4().hex[:6]}", task_queue=f"{task_queue}-nobody"
    )
    wid = f"reporter-{uuid.uuid4().hex[:6]}"
    entered, gate = GATES[wid] = (threading.Event(), threading.Event())
    async with Worker(client, task_queue=task_queue, workflows=[Reporter]):
        handle = await client.start_workflow(
            Reporter.run, args=[target.id, guarded], id=wid, task_queue=task_queue
        )
        assert await asyncio.to_thread(entered.wait, 30)
        await handle.cancel()  # arrives while the signal is being sent
        gate.set()
        if guarded:
            with pytest.raises(WorkflowFailureError) as ended:
                await asyncio.wait_for(handle.result(), timeout=30)
            assert isinstance(ended.value.cause, CancelledError)
        else:
            # What the SDK does on its own: the cancel is taken for the signal's, and lost.
            await until(lambda: task_done_after_cancel(handle), what="the cancel to be seen")
            assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
            await handle.terminate("test cleanup")
    await target.terminate("test cleanup")
