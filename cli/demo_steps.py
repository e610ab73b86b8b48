"""What the demo's phases share: its voice (progress lines, holds) and a person's hands
(a loop started afresh, a signal sent with the `temporal` CLI as a person types it)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError

from cli.common import CliError
from cli.demo_repo import DemoRepo
from cli.holds import answers
from cli.output import Clock, Commands, paint, temporal_command
from cli.summaries import loop_metadata
from contracts.build import BuildStatus
from contracts.design import DesignStatus
from contracts.human import PendingDecision
from runtime.client import settings_from_env
from runtime.server import temporal_binary

# How often the demo asks its loops (a describe and a status query each) and the forge
# stand-in what changed. Every query is a workflow task on the server and the worker.
POLL_S = 1.0


class Demo:
    """The demo's voice: progress lines with elapsed time, pasteable commands."""

    def __init__(self, repo: DemoRepo | None = None) -> None:
        self.clock = Clock()
        self.cmds = Commands.for_dir(str(repo.design_dir)) if repo else Commands("<dir>")
        self.holds_seen: set[str] = set()

    def say(self, text: str = "") -> None:
        print(f"{self.clock.stamp()} {text}" if text else "", flush=True)

    def holds(self, st: DesignStatus | BuildStatus, decisions: list[PendingDecision]) -> None:
        """Each new hold at once, with the commands that answer it; the demo keeps going
        (its worker lives in this process) until a person answers from another terminal."""
        fresh = [d for d in decisions if d.prompt not in self.holds_seen]
        if not fresh and not (st.paused and "paused" not in self.holds_seen):
            return
        self.holds_seen.update(d.prompt for d in fresh)
        if st.paused:
            self.holds_seen.add("paused")
        self.say(
            paint(
                "A person must act: the demo waits for this (answer it from another "
                "terminal, or Ctrl-C to end the demo):",
                "bold",
            )
        )
        for line in answers(st, fresh, self.cmds, decisions_only=True):
            print(f"    {line}", flush=True)


async def fresh_start(
    client: Client,
    workflow: Any,
    workflow_id: str,
    arg: Any,
    task_queue: str,
    kind: str,
    say: Callable[[str], None] = print,
) -> WorkflowHandle:
    """Terminate a leftover run of an earlier demo with the same id, and the children it
    left running (a build's subtasks outlive it: ABANDON), then start."""
    old = client.get_workflow_handle(workflow_id)
    with contextlib.suppress(RPCError):
        if (await old.describe()).status == WorkflowExecutionStatus.RUNNING:
            await old.terminate("superseded by a new `orchestrator demo`")
    for child in await end_children(client, workflow_id):
        say(f"  ended {child}, left running by the earlier {workflow_id}")
    return await client.start_workflow(
        workflow.run,
        args=[arg],
        id=workflow_id,
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        **loop_metadata(kind, arg.design_dir),
    )


async def end_children(client: Client, workflow_id: str) -> list[str]:
    """Terminate every running child of any run of `workflow_id`; their ids."""
    running = f"ParentWorkflowId = '{workflow_id}' AND ExecutionStatus = 'Running'"
    ended = []
    async for child in client.list_workflows(running):
        with contextlib.suppress(RPCError):  # it ended meanwhile
            handle = client.get_workflow_handle(child.id, run_id=child.run_id)
            await handle.terminate(f"its build {workflow_id} was superseded by a new demo")
            ended.append(child.id)
    return ended


async def next_phase(
    demo: Demo, client: Client, header: str, workflow: Any, arg: Any, task_queue: str, kind: str
) -> WorkflowHandle:
    """A blank line, the phase's header, and its loop (`<kind>-link-shortener`) started."""
    demo.say("")
    demo.say(f"== {header}")
    workflow_id = f"{kind}-link-shortener"
    return await fresh_start(client, workflow, workflow_id, arg, task_queue, kind, demo.say)


async def signal_as_a_person(demo: Demo, workflow_id: str, name: str) -> None:
    """The `temporal` CLI's signal, as a person would type it (and paste it: the binary's
    path when it is not on PATH, the server's address when it is not the default)."""
    words = ["workflow", "signal", "--workflow-id", workflow_id, "--name", name]
    demo.say(f"  $ {temporal_command(*words)}")
    address = settings_from_env().address
    proc = await asyncio.create_subprocess_exec(
        temporal_binary(),
        *words,
        "--address",
        address,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await proc.communicate()
    if proc.returncode != 0:
        raise CliError(f"temporal workflow signal failed: {output.decode()}")
