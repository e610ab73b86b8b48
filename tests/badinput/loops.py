"""A design loop and a build loop of one project, each held where a person must act.

The design loop waits for answers to two reviewer questions (Q1, Q2); the build
loop waits for a decision on subtask `a`, stuck after its one allowed round
(skip / simplify / debug / continue), with `b` waiting on `a`. Bad input is thrown
at them and they must stay there: running, answering `status`, with no failed
workflow task in their histories.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError

from cli.demo_repo import DemoRepo
from contracts.build import BuildInput, BuildStatus
from contracts.design import DesignInput, DesignStatus
from simulators.demo_scenario import QUESTIONS
from simulators.github_api import GitHubStandIn
from tests.support import scripted_model, status_of, until
from tests.workflows.builds import passes_review, tiny_project, writes_file_rule
from worker import build_worker
from workflows.build import BuildWorkflow
from workflows.design_review import DesignReviewWorkflow

UNANSWERED = [{"id": q["id"], "answered": False, "choice": None} for q in QUESTIONS]
SCENARIO = {
    "rules": [
        {
            "match": {"role": "design-requirements", "scope": "consistency", "round": 1},
            "submit": {"score": 0.99, "questions": QUESTIONS},
        },
        {"match": {"role": "question-answerer"}, "submit": {"answers": UNANSWERED}},
        {"match": {"role": "code-correctness", "scope": "a"}, "submit": {"score": 0.5}},
        passes_review(),
        writes_file_rule("a"),
        writes_file_rule("b"),
    ]
}
# One round each: a scope or subtask below the bar asks a person at once.
CONFIG = '\n[reviewers]\ndesign = ["design-requirements"]\ncode = ["code-correctness"]\n'
TOP = "max_rounds = 1"


@dataclass
class Held:
    repo: DemoRepo
    queue: str
    design: WorkflowHandle
    build: WorkflowHandle
    child: WorkflowHandle


@contextlib.asynccontextmanager
async def held_loops(
    client: Client, root: Path, task_queue: str, design_id: str, build_id: str
) -> AsyncIterator[Held]:
    """Both loops of one approved tiny design (a; b needs a), held; terminated afterwards."""
    with (
        pytest.MonkeyPatch.context() as env,
        GitHubStandIn() as github,
        scripted_model(SCENARIO, env, github.url),
    ):
        repo = tiny_project(root, github.url, {"a": [], "b": ["a"]}, CONFIG, top=TOP)
        design_dir = str(repo.design_dir)
        async with build_worker(client, task_queue):
            design = await client.start_workflow(
                DesignReviewWorkflow.run,
                DesignInput(design_dir=design_dir),
                id=design_id,
                task_queue=task_queue,
            )
            build = None
            try:

                async def questions() -> bool:
                    st = await status_of(design, DesignStatus)
                    return [q.id for q in st.open_questions] == ["Q1", "Q2"]

                await until(questions, what="the design's open questions")
                # Only now: the design loop is idle, so the two never share the checkout's git.
                build = await client.start_workflow(
                    BuildWorkflow.run,
                    BuildInput(design_dir=design_dir),
                    id=build_id,
                    task_queue=task_queue,
                )

                async def stuck() -> bool:
                    st = await status_of(build, BuildStatus)
                    views = {v.name: v for v in st.subtasks}
                    return st.running == ["a"] and views["a"].decision is not None

                await until(stuck, what="the build's decision on subtask a")
                child = client.get_workflow_handle(f"{build_id}-a")
                # Held, and done with what the hold itself starts (the tracker and status
                # files after a decision arrives): the tests count events to prove that a
                # refused command reached no loop.
                for handle in (design, build, child):
                    await until(lambda h=handle: settled(h), what=f"{handle.id} settled")
                yield Held(repo, task_queue, design, build, child)
            finally:
                for handle in (design, build):
                    if handle is not None:
                        with contextlib.suppress(RPCError):
                            await handle.terminate("bad-input corpus done")


async def settled(handle: WorkflowHandle) -> bool:
    """Nothing in flight: no activity pending, no workflow task to run."""
    raw = (await handle.describe()).raw_description
    return not raw.pending_activities and not raw.HasField("pending_workflow_task")


async def no_failed_task(handle: WorkflowHandle) -> None:
    failed = [
        e.event_id
        async for e in handle.fetch_history_events()
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    ]
    assert failed == [], f"{handle.id}: workflow task failed at events {failed}"


async def still_sound(handle: WorkflowHandle, result_type: type) -> object:
    """Running, answering `status`, and not one failed workflow task in its history."""
    desc = await handle.describe()
    assert desc.status == WorkflowExecutionStatus.RUNNING, (handle.id, desc.status)
    await no_failed_task(handle)
    return await status_of(handle, result_type)
