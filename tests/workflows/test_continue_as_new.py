"""Long loops continue as new when Temporal suggests it, and still finish correctly.

A dev server whose history-count threshold is lowered suggests continue-as-new
after a few dozen events, so a build of three of the example's subtasks, those
subtasks and a design loop with a change request all pass through it; and a build
whose subtask follows its PR for as long as CI takes continues as new among its
running children.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter

from contracts.build import BuildInput, BuildResult, BuildStatus, SubtaskState
from contracts.design import DesignInput, DesignResult, DesignStatus
from contracts.human import AnswerInput, FeedbackInput
from runtime.server import DevServer, free_port, start_dev_server
from simulators.demo_scenario import link_shortener_scenario
from simulators.github_api import GitHubStandIn
from tests.support import (
    WorkerProcess,
    example_design,
    make_project,
    record_history,
    scripted_model,
    served_status,
    sim_environ,
    until,
)
from tests.workflows.builds import (
    REPO,
    SUBTASKS_ONLY,
    approve_artifacts,
    passes_review,
    tiny_project,
    wid,
    writes_file_rule,
)
from worker import build_worker
from workflows.adopted import ADOPTED_POLL
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
        # Three of the example's subtasks are events enough for the build to continue as new
        # between them; a subtask's own rounds, for it to continue as new between them.
        source = example_design(tmp_path, "01-models", "02-storage", "03-codec")
        repo = make_project(tmp_path, github.url, design_source=source)
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
            subtask_runs = await runs_of(client, "build-can-02-storage")
        pulls = github.pulls("demo/link-shortener")
    assert result.result == "ALL_SUBTASKS_PR_CREATED"
    assert sorted(p["head"]["ref"] for p in pulls) == [
        *(f"feat/{s.subtask}" for s in result.subtasks),
        "integration/link-shortener",
    ]
    assert result.integration is not None and result.integration.status == "passed"
    assert build_runs > 1  # the build continued as new between subtasks
    assert subtask_runs > 1  # and a subtask between review rounds
    # State carried over intact: every subtask, each after its two rounds.
    assert sorted((s.subtask, s.rounds) for s in result.subtasks) == [
        ("01-models", 2),
        ("02-storage", 2),
        ("03-codec", 2),
    ]


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


def pull_head(github: GitHubStandIn, branch: str) -> str | None:
    pull = next((p for p in github.pulls(REPO) if p["head"]["ref"] == branch), None)
    return pull["head"]["sha"] if pull else None


async def status_of_a(handle: WorkflowHandle) -> str | None:
    st = await served_status(handle, BuildStatus)
    return next((v.status for v in st.subtasks if v.name == "a"), None) if st else None


async def test_a_build_continues_as_new_while_its_subtask_follows_its_pr(
    eager_client: Client, eager_server: DevServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """a's PR waits on CI; b (which depends on a) starts meanwhile. The build continues as
    new among its running children, its worker is killed right after; the next run follows
    a on: its red CI is fixed, it ends mergeable, never cancelled nor started again."""
    client, queue = eager_client, "can-follow"
    fixer = {
        "match": {"role": "fixer", "scope": "a"},
        "steps": [{"tool": "write_file", "input": {"path": "src/a.txt", "content": "fixed"}}],
        "submit": {"summary": "fixed src/a.txt", "files_changed": ["src/a.txt"]},
    }
    rules = [writes_file_rule("a"), writes_file_rule("b"), passes_review("a"), fixer]
    rules.append(passes_review("b"))
    forge = "follow = true\npoll_s = 1\npoll_max_s = 2"
    with (
        GitHubStandIn() as github,
        scripted_model({"rules": rules}, monkeypatch, github.url) as messages,
    ):
        repo = tiny_project(tmp_path, github.url, {"a": [], "b": ["a"]}, SUBTASKS_ONLY, forge=forge)
        github.protect(REPO, "main", contexts=["tests"], strict=False)
        environ, log = sim_environ(messages.url, github.url), tmp_path / "worker.log"
        with WorkerProcess(eager_server.address, queue, environ, log) as worker:
            build_id = wid()
            await client.start_workflow(
                BuildWorkflow.run,
                BuildInput(design_dir=str(repo.design_dir)),
                id=build_id,
                task_queue=queue,
            )
            latest = client.get_workflow_handle(build_id)  # the newest run, as a person sees it

            async def following_a() -> str | None:
                head = pull_head(github, "feat/a")
                return head if head and await status_of_a(latest) == "ci_running" else None

            head = await until(following_a, limit=180, what="a following its PR")
            before = await runs_of(client, build_id)

            async def continued() -> bool:
                return await runs_of(client, build_id) > before

            await until(continued, limit=180, what="a continue-as-new while a follows")
            worker.crash()
            worker.start()

            async def b_opened() -> str | None:
                return pull_head(github, "feat/b")

            b_head = await until(b_opened, limit=180, what="b's PR while a waits on CI")
            a_meanwhile = await status_of_a(latest)
            # The run that took a over passes a person's pause and resume on to it.
            a_child = client.get_workflow_handle(f"{build_id}-a")
            for send, paused in ((BuildWorkflow.pause, True), (BuildWorkflow.resume, False)):
                await latest.signal(send)
                await until(lambda p=paused: a_paused(a_child, p), what=f"a paused={paused}")
            github.check_run(REPO, b_head, "tests", conclusion="success")
            github.check_run(REPO, head, "tests", conclusion="failure", log="FAILED test_a\n")

            async def fixed() -> str | None:
                new = pull_head(github, "feat/a")
                return new if new != head else None

            fixed_head = await until(fixed, limit=180, what="a's fix pushed")
            github.check_run(REPO, fixed_head, "tests", conclusion="success")
            result = BuildResult.model_validate(await latest.result())
            final = await latest.describe()
            a_runs = await child_runs(client, f"{build_id}-a")
            a_last = await client.get_workflow_handle(f"{build_id}-a").describe()
            # The run that started a and continued as new while a followed its PR; the
            # last run, which took a over and its result.
            await record_history(client.get_workflow_handle(build_id, run_id=a_runs[0][1]))
            await record_history(latest, also="adopted")  # the newest run: the last

    assert result.result == "ALL_SUBTASKS_MERGEABLE", result
    assert a_meanwhile == "ci_running"  # b started while a still waited on its CI
    a, _ = result.subtasks
    assert a.status == "mergeable" and [r.kind for r in a.follow_rounds] == ["ci"]
    builders = [r for r in messages.requests if r.role == "builder" and r.scope == "a"]
    assert len([r for r in builders if r.turn == 1]) == 1  # a was never started again
    fixes = [r for r in messages.requests if r.role == "fixer" and r.turn == 1]
    assert len(fixes) == 1 and "FAILED test_a" in fixes[0].prompt
    # Every run of a's child ended completed or continued as new: none cancelled, none
    # terminated; and a later run of the build than the one that started it took its result.
    assert {s for s, _ in a_runs} <= {"COMPLETED", "CONTINUED_AS_NEW"}, a_runs
    assert a_runs[0][1] != final.run_id
    # Its last report woke the build's look: the build closed before the fallback poll's
    # first look (`ADOPTED_POLL`, 30 s) could have seen a's end (b ended long before: it
    # never waited on CI). Without the wake it closed 31.7 s after a.
    assert final.close_time and a_last.close_time
    assert (final.close_time - a_last.close_time) < ADOPTED_POLL


async def a_paused(child: WorkflowHandle, paused: bool) -> bool:
    st = await served_status(child, SubtaskState)
    return st is not None and st.paused == paused


async def child_runs(client: Client, workflow_id: str) -> list[tuple[str, Any]]:
    """(status, parent run id) of each run of `workflow_id`, the first first."""
    runs = []
    async for w in client.list_workflows(f"WorkflowId = '{workflow_id}'"):
        desc = await client.get_workflow_handle(workflow_id, run_id=w.run_id).describe()
        parent = desc.raw_description.workflow_execution_info.parent_execution.run_id
        status = w.status or WorkflowExecutionStatus.RUNNING
        runs.append((w.start_time, status.name, parent))
    return [(s, p) for _, s, p in sorted(runs)]
