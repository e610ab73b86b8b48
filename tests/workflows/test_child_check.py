"""What the build's child check says of a child whose parent run ended (issue 21).

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

from temporalio import workflow
from temporalio.client import Client
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


async def child_running(client: Client, child_id: str) -> bool:
    try:
        await client.get_workflow_handle(child_id).describe()
    except Exception:
        return False
    return True


async def test_a_child_whose_build_run_ended_is_stale_though_its_worker_lives(
    client: Client,
) -> None:
    queue = f"child-check-{uuid.uuid4().hex[:8]}"
    build_id, child_id = f"build-{queue}", f"build-{queue}-a"
    check = ActivityEnvironment(client)
    async with Worker(client, task_queue=queue, workflows=[Starts, Waits]):
        parent = await client.start_workflow(
            Starts.run,
            child_id,
            id=build_id,
            task_queue=queue,
            execution_timeout=timedelta(minutes=5),
        )
        await until(lambda: child_running(client, child_id), what="the child")
        live = await check.run(check_child, ChildProbe(workflow_id=child_id, build_id=build_id))
        await parent.terminate("superseded by a new build")
        ended = await check.run(check_child, ChildProbe(workflow_id=child_id, build_id=build_id))
        await client.get_workflow_handle(child_id).terminate("test over")
    assert live.verdict == "adopt", live
    assert ended.verdict == "stale", ended
    assert "ended terminated" in ended.found, ended.found
