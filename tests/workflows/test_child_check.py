"""What the build's child check says of a child whose parent run ended (issue 21), or
continued as new.

Terminating a build asks its children to cancel, but the server carries out the
parent-close policy a moment later. A new build that looked in that moment saw a
child with a live worker and no cancel yet, adopted it, and then lost it to the
cancel (two demos at once: the second ended SUBTASKS_INCOMPLETE). The moment is
held open here with an ABANDON child, so the check is tested without a race.
Real server and worker; the activity runs with a real client.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker
from temporalio.workflow import ParentClosePolicy

from activities.child_workflows import check_child
from contracts.child_check import ChildProbe
from tests.support import until


@workflow.defn(sandboxed=False)
class Waits:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


@workflow.defn(sandboxed=False)
class Starts:
    @workflow.run
    async def run(self, child_id: str) -> None:
        await workflow.start_child_workflow(
            Waits.run,
            id=child_id,
            parent_close_policy=ParentClosePolicy.ABANDON,
            execution_timeout=timedelta(minutes=5),
        )
        await workflow.wait_condition(lambda: False)


@workflow.defn(sandboxed=False)
class StartsThenContinues:
    """A build's way since children outlive its runs: it continues as new among them."""

    def __init__(self) -> None:
        self.go_on = False

    @workflow.signal
    def continue_now(self) -> None:
        self.go_on = True

    @workflow.run
    async def run(self, child_id: str, started: bool = False) -> None:
        if not started:
            await workflow.start_child_workflow(
                Waits.run,
                id=child_id,
                parent_close_policy=ParentClosePolicy.ABANDON,
                execution_timeout=timedelta(minutes=5),
            )
            await workflow.wait_condition(lambda: self.go_on)
            workflow.continue_as_new(args=[child_id, True])
        await workflow.wait_condition(lambda: False)


async def child_running(client: Client, child_id: str) -> bool:
    try:
        await client.get_workflow_handle(child_id).describe()
    except Exception:
        return False
    return True


async def with_child(client: Client, queue: str, run: Any) -> WorkflowHandle[Any, Any]:
    """The parent (`run`: its workflow's run method), once its child runs."""
    build_id, child_id = f"build-{queue}", f"build-{queue}-a"
    parent = await client.start_workflow(
        run, child_id, id=build_id, task_queue=queue, execution_timeout=timedelta(minutes=5)
    )
    await until(lambda: child_running(client, child_id), what="the child")
    return parent


async def test_a_child_whose_build_run_ended_is_stale_though_its_worker_lives(
    client: Client,
) -> None:
    queue = f"child-check-{uuid.uuid4().hex[:8]}"
    build_id, child_id = f"build-{queue}", f"build-{queue}-a"
    check = ActivityEnvironment(client)
    async with Worker(client, task_queue=queue, workflows=[Starts, Waits]):
        parent = await with_child(client, queue, Starts.run)
        live = await check.run(check_child, ChildProbe(workflow_id=child_id, build_id=build_id))
        await parent.terminate("superseded by a new build")
        ended = await check.run(check_child, ChildProbe(workflow_id=child_id, build_id=build_id))
        await client.get_workflow_handle(child_id).terminate("test over")
    assert live.verdict == "adopt", live
    assert ended.verdict == "stale", ended
    assert "ended terminated" in ended.found, ended.found


async def test_a_child_whose_build_run_continued_as_new_is_adopted(client: Client) -> None:
    """Continue-as-new hands the children to the next run: not an end that leaves them."""
    queue = f"child-check-{uuid.uuid4().hex[:8]}"
    build_id, child_id = f"build-{queue}", f"build-{queue}-a"
    check = ActivityEnvironment(client)
    async with Worker(client, task_queue=queue, workflows=[StartsThenContinues, Waits]):
        parent = await with_child(client, queue, StartsThenContinues.run)
        await parent.signal(StartsThenContinues.continue_now)

        async def continued() -> bool:
            return (await client.get_workflow_handle(build_id).describe()).run_id != parent.run_id

        await until(continued, what="the parent's next run")
        found = await check.run(check_child, ChildProbe(workflow_id=child_id, build_id=build_id))
        await client.get_workflow_handle(build_id).terminate("test over")
        await client.get_workflow_handle(child_id).terminate("test over")
    assert found.verdict == "adopt", found
