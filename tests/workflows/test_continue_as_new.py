"""Long loops continue as new when Temporal suggests it, and still finish correctly.

A dev server whose history-count threshold is lowered suggests continue-as-new
after a few dozen events, so the example's build, its subtasks and a design loop
with a change request all pass through it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from contracts.build import BuildInput, BuildResult
from contracts.design import DesignInput, DesignResult, DesignStatus
from contracts.human import AnswerInput, FeedbackInput
from runtime.server import DevServer, free_port, start_dev_server
from simulators.demo_scenario import link_shortener_scenario
from simulators.github_api import GitHubStandIn
from tests.support import make_project, record_history, scripted_model, until
from tests.workflows.builds import approve_artifacts
from worker import build_worker
from workflows.build import BuildWorkflow
from workflows.design_review import DesignReviewWorkflow

# One worker runs this module, in order (ONE_WORKER in tests/conftest.py): its tests
# share one server with its own settings (`eager_server`).


@pytest.fixture(scope="module")
def eager_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    home = tmp_path_factory.mktemp("eager")
    server = start_dev_server(
        port=free_port(),
        ui_port=free_port(),
        db_file=None,
        detach=False,
        log_path=home / "temporal.log",
        headless=True,
        dynamic_config={"limit.historyCount.suggestContinueAsNew": "60"},
    )
    yield server
    server.stop()


@pytest.fixture
async def eager_client(eager_server: DevServer) -> AsyncIterator[Client]:
    for attempt in range(60):
        try:
            yield await Client.connect(eager_server.address, data_converter=pydantic_data_converter)
            return
        except RuntimeError:
            if attempt == 59:
                raise
            import asyncio

            await asyncio.sleep(0.5)


async def runs_of(client: Client, workflow_id: str) -> int:
    count = 0
    async for _ in client.list_workflows(f"WorkflowId = '{workflow_id}'"):
        count += 1
    return count


async def test_build_and_subtasks_continue_as_new(
    eager_client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = eager_client
    with (
        GitHubStandIn() as github,
        scripted_model(link_shortener_scenario(), monkeypatch, github.url),
    ):
        repo = make_project(tmp_path, github.url)
        approve_artifacts(repo.design_dir, repo.root)
        async with build_worker(client, "can-queue"):
            handle = await client.start_workflow(
                BuildWorkflow.run,
                BuildInput(design_dir=str(repo.design_dir)),
                id="build-can",
                task_queue="can-queue",
            )
            result = BuildResult.model_validate(await handle.result())
            # The first run, which ends by continuing as new with its state.
            await record_history(client.get_workflow_handle("build-can", run_id=handle.run_id))
            build_runs = await runs_of(client, "build-can")
            subtask_runs = await runs_of(client, "build-can-04-service")
        pulls = github.pulls("demo/link-shortener")
    assert result.result == "ALL_SUBTASKS_PR_CREATED"
    assert sorted(p["head"]["ref"] for p in pulls) == [
        *(f"feat/{s.subtask}" for s in result.subtasks),
        "integration/link-shortener",
    ]
    assert result.integration is not None and result.integration.status == "passed"
    assert build_runs > 1  # the build continued as new between subtasks
    assert subtask_runs > 1  # and a subtask between review rounds
    assert all(s.rounds == 2 for s in result.subtasks)  # state carried over intact


async def test_design_loop_continues_as_new_after_a_change_request(
    eager_client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each request_changes cycle may start a fresh run; answers and rounds carry over."""
    client = eager_client
    with scripted_model(link_shortener_scenario(), monkeypatch):
        repo = make_project(tmp_path)
        async with build_worker(client, "can-design"):
            first = await client.start_workflow(
                DesignReviewWorkflow.run,
                DesignInput(design_dir=str(repo.design_dir), reviewers=["design-requirements"]),
                id="design-can",
                task_queue="can-design",
            )
            latest = client.get_workflow_handle("design-can")  # follows the newest run

            async def status() -> DesignStatus:
                return await latest.query(DesignReviewWorkflow.status)

            async def open_q2() -> bool:
                return any(q.id == "Q2" for q in (await status()).open_questions)

            async def at_gate() -> bool:
                return (await status()).phase == "awaiting-approval"

            await until(open_q2, what="Q2 for the person")
            await latest.execute_update(
                DesignReviewWorkflow.answer_question, AnswerInput(question_id="Q2", choice="A")
            )
            await until(at_gate, what="the approval gate")
            await latest.signal(
                DesignReviewWorkflow.request_changes, FeedbackInput(feedback="Add rate limiting")
            )
            await until(lambda: _runs_at_least(client, "design-can", 2), what="a second run")
            await until(at_gate, what="the gate in the new run")
            await latest.signal(DesignReviewWorkflow.approved)
            result = DesignResult.model_validate(await latest.result())
            # A design with a change request, which continued as new.
            await record_history(client.get_workflow_handle("design-can", run_id=first.run_id))
    assert result.result == "DESIGN_DOC_APPROVED"
    assert result.rounds["consistency"] >= 3  # rounds of the first run were carried over
    q2 = next(q for q in result.questions if q.id == "Q2")
    assert q2.answered_by == "human" and q2.choice == "A"
    assert (repo.design_dir / "subtasks").is_dir()


async def _runs_at_least(client: Client, workflow_id: str, n: int) -> bool:
    return await runs_of(client, workflow_id) >= n
