"""Asking the Temporal server about a workflow that holds a child's id, and ending a stale one.

A build interrupted with its worker (Ctrl-C on the demo, a killed host) leaves its
running subtask behind: asked to cancel by the parent-close policy, on a task
queue no worker polls, it stays RUNNING for good and the next build's start of
that child fails. The build asks here what holds the id, so it can adopt,
replace or report it; workflow code cannot talk to the server itself.
"""

from __future__ import annotations

import os
import socket
import time

from temporalio import activity
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
)
from temporalio.service import RPCError, RPCStatusCode

from contracts.build import SubtaskResult
from contracts.child_check import BuildProbe, ChildCheck, ChildEnd, ChildProbe

# A live worker long-polls without pause (a poll lasts at most about a minute); the server
# keeps listing a poller for minutes after its worker is gone.
POLLER_FRESH_S = 120.0


def may_be_alive(identity: str) -> bool:
    """Rule out a poller of this host whose process is gone (identity `<pid>@<host>`)."""
    pid, _, host = identity.partition("@")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def live_pollers(client: Client, task_queue: str) -> list[str]:
    """Identities of the workers that may still poll `task_queue`'s workflow tasks."""
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    now = time.time()
    return [
        p.identity
        for p in response.pollers
        if may_be_alive(p.identity)
        and (
            not p.HasField("last_access_time") or now - p.last_access_time.seconds < POLLER_FRESH_S
        )
    ]


@activity.defn(name="children.check")
async def check_child(probe: ChildProbe) -> ChildCheck:
    """What holds `probe.workflow_id`: nothing, this build's live or stale child, or another."""
    client = activity.client()
    handle = client.get_workflow_handle(probe.workflow_id, run_id=probe.run_id or None)
    try:
        desc = await handle.describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return ChildCheck(verdict="free")
        raise
    if desc.status == WorkflowExecutionStatus.CONTINUED_AS_NEW and probe.run_id:
        # An adopted subtask continued as new between rounds: follow its newest run.
        desc = await client.get_workflow_handle(probe.workflow_id).describe()
    if desc.status != WorkflowExecutionStatus.RUNNING:
        if not probe.run_id:
            return ChildCheck(verdict="free")
        return await _closed(client, desc)
    return await _running(client, probe, desc)


async def _running(
    client: Client, probe: ChildProbe, desc: WorkflowExecutionDescription
) -> ChildCheck:
    raw = desc.raw_description
    parent = raw.workflow_execution_info.parent_execution
    where = f"{desc.id} (run {desc.run_id}, {desc.workflow_type}) on task queue {desc.task_queue}"
    if parent.workflow_id != probe.build_id:
        by = f"by {parent.workflow_id}" if parent.workflow_id else "by hand or by another program"
        return ChildCheck(
            verdict="foreign",
            run_id=desc.run_id,
            task_queue=desc.task_queue,
            found=f"{where}, not started by this build (started {by})",
        )
    cancel = raw.workflow_extended_info.cancel_requested
    ended = await _ended_without_reset(client, parent.workflow_id, parent.run_id)
    pollers = await live_pollers(client, desc.task_queue)
    if pollers and not cancel and not ended:
        return ChildCheck(
            verdict="adopt",
            run_id=desc.run_id,
            task_queue=desc.task_queue,
            found=f"{where}, started by run {parent.run_id} of this build and still worked on",
        )
    why = []
    if cancel:
        why.append("a cancel requested that it never carried out")
    if ended:
        why.append(f"that run {ended}, so no run of this build follows what it left")
    if not pollers:
        why.append("no worker polling that queue")
    return ChildCheck(
        verdict="stale",
        run_id=desc.run_id,
        task_queue=desc.task_queue,
        found=f"{where}, left by run {parent.run_id} of this build with {' and '.join(why)}",
    )


async def _ended_without_reset(client: Client, build_id: str, run_id: str) -> str:
    """How the build run that started a child ended ("" while it runs, or when a reset
    or a continue-as-new ended it: either leaves its children to the next run). After any
    other end no run follows the child: one started with REQUEST_CANCEL is cancelled
    moments later, under a build that adopted it now (a build superseded by a new
    `orchestrator demo` while its worker lives); one started with ABANDON runs on.

    Temporal applies the policy on continue-as-new too (temporalio/temporal#373, #3666),
    so a build continues as new with children running only once it starts them with
    ABANDON; a run that started them with REQUEST_CANCEL continued as new only when none
    ran (workflows/build_children.py)."""
    try:
        desc = await client.get_workflow_handle(build_id, run_id=run_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return ""
        raise
    if desc.status is None or desc.status == WorkflowExecutionStatus.RUNNING:
        return ""
    if desc.status == WorkflowExecutionStatus.CONTINUED_AS_NEW:
        return ""
    if desc.raw_description.workflow_extended_info.reset_run_id:
        return ""
    return f"ended {desc.status.name.lower()}"


async def _closed(client: Client, desc: WorkflowExecutionDescription) -> ChildCheck:
    """An adopted run that ended: its result, or how it ended."""
    handle = client.get_workflow_handle(desc.id, run_id=desc.run_id, result_type=SubtaskResult)
    how = desc.status.name.lower() if desc.status else "closed"
    try:
        result = await handle.result(follow_runs=False)
    except WorkflowFailureError as err:
        cause = err.cause
        while (deeper := getattr(cause, "cause", None)) is not None:
            cause = deeper
        return ChildCheck(verdict="free", run_id=desc.run_id, closed=f"{how}: {cause or err}")
    return ChildCheck(verdict="free", run_id=desc.run_id, closed=how, result=result)


@activity.defn(name="children.end")
async def end_child(end: ChildEnd) -> None:
    """Terminate a stale child run (idempotent: one already closed is left as it is)."""
    handle = activity.client().get_workflow_handle(end.workflow_id, run_id=end.run_id)
    try:
        await handle.terminate(end.reason)
    except RPCError as err:
        if err.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise


@activity.defn(name="children.build_gone")
async def build_gone(probe: BuildProbe) -> str:
    """Why no run of the build will take this child over ("" while one may): no run of its
    id is open, or the open one is a new build, since the run that started the child ended
    other than by a reset or a continue-as-new (`check_child`'s rule for the same child,
    so a child never ends itself under a build that would adopt it)."""
    client = activity.client()
    try:
        latest = await client.get_workflow_handle(probe.build_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return f"build {probe.build_id} is gone (the server has no run of it)"
        raise
    if latest.status != WorkflowExecutionStatus.RUNNING:
        how = latest.status.name.lower() if latest.status else "closed"
        return f"build {probe.build_id} is closed ({how})"
    ended = await _ended_without_reset(client, probe.build_id, probe.run_id)
    if not ended:
        return ""
    return (
        f"build {probe.build_id}'s run {probe.run_id}, which started it, {ended}; the build "
        f"running under that id now (run {latest.run_id}) is a new one"
    )


ACTIVITIES = [check_child, end_child, build_gone]
