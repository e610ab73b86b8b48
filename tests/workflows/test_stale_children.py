"""A build started again over the leftovers of an interrupted one (issue 21).

Ctrl-C on the demo kills its in-process worker; the next demo terminates the old
build, which leaves its running subtask (started with ABANDON) on a task queue
nobody polls any more. The new build's child start then found that id
taken: the error was swallowed and the build waited for nothing, forever.
Real server, real git, the real clients against the stand-ins.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from contracts.build import BuildInput, BuildResult, BuildStatus
from contracts.human import DecideInput
from runtime.server import DevServer
from simulators.github_api import GitHubStandIn
from simulators.messages_api import MessagesStandIn
from tests.support import scripted_model, status_of, temporal_cli, until
from tests.workflows.builds import ONE_REVIEWER, passes_review, tiny_project, wid, writes_file_rule
from worker import build_worker
from workflows.build import BuildWorkflow


def builder_asked(messages: MessagesStandIn, scope: str) -> bool:
    return any(r.scope == scope and r.role == "builder" for r in messages.requests)


async def start(client: Client, build_id: str, design_dir: Path, queue: str) -> WorkflowHandle:
    return await client.start_workflow(
        BuildWorkflow.run, BuildInput(design_dir=str(design_dir)), id=build_id, task_queue=queue
    )


async def interrupted_build(
    client: Client, build_id: str, design_dir: Path, queue: str, messages: MessagesStandIn
) -> WorkflowHandle:
    """A build whose worker died mid-build (Ctrl-C on the demo): its child runs on `queue`."""
    async with build_worker(client, queue):
        handle = await start(client, build_id, design_dir, queue)
        await until(lambda: asyncio.sleep(0, builder_asked(messages, "a")), what="a's builder")
    return handle


async def test_rerun_after_an_interrupted_build_replaces_its_stale_child(
    client: Client, tmp_path: Path, github: GitHubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a's builder hangs on its first request: the first build is interrupted mid-build.
    a_hangs = writes_file_rule("a") | {"faults": [{"type": "hang", "seconds": 300}]}
    rules = [a_hangs, writes_file_rule("b"), passes_review()]
    with scripted_model({"rules": rules}, monkeypatch, github.url) as messages:
        repo = tiny_project(tmp_path, github.url, {"a": [], "b": ["a"]}, ONE_REVIEWER)
        build_id = wid()
        old = await interrupted_build(client, build_id, repo.design_dir, "dead-queue", messages)
        stale = client.get_workflow_handle(f"{build_id}-a")
        stale_run = (await stale.describe()).run_id
        # What `./run demo` did to the old build: terminate it. Its child outlives it
        # (ABANDON: builds continue as new among their children), on a queue that no
        # worker polls: it stays RUNNING for good.
        await old.terminate("superseded by a new `orchestrator demo`")
        described = await stale.describe()
        assert described.status == WorkflowExecutionStatus.RUNNING
        assert not described.raw_description.workflow_extended_info.cancel_requested

        async with build_worker(client, "live-queue"):
            handle = await start(client, build_id, repo.design_dir, "live-queue")
            raw = await asyncio.wait_for(handle.result(), timeout=240)
            result = BuildResult.model_validate(raw)
            st = await status_of(handle, BuildStatus)
    assert result.result == "ALL_SUBTASKS_PR_CREATED", result
    old_child = client.get_workflow_handle(f"{build_id}-a", run_id=stale_run)
    assert (await old_child.describe()).status == WorkflowExecutionStatus.TERMINATED
    # The build's note says what it found and did.
    assert st.notice.startswith(f"terminated stale {build_id}-a (run {stale_run}"), st.notice
    assert "on task queue dead-queue" in st.notice and "ended terminated" in st.notice


async def test_a_foreign_workflow_under_a_child_id_holds_visibly(
    client: Client, tmp_path: Path, github: GitHubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not started by this build: the build leaves it alone and holds with what it found."""
    rules = [writes_file_rule("a"), passes_review()]
    with scripted_model({"rules": rules}, monkeypatch, github.url):
        repo = tiny_project(tmp_path, github.url, {"a": []}, ONE_REVIEWER)
        build_id = wid()
        # Someone started a workflow under the child's id by hand.
        squatter = await client.start_workflow(
            "Squatter", id=f"{build_id}-a", task_queue="nobody-polls-this"
        )
        async with build_worker(client, "live-queue-2"):
            handle = await start(client, build_id, repo.design_dir, "live-queue-2")

            async def held() -> BuildStatus | None:
                st = await status_of(handle, BuildStatus)
                return st if st.decisions else None

            st = await until(held, limit=120, what="the build to hold")
            prompt = st.decisions[0].prompt
            assert f"{build_id}-a" in prompt and "not started by this build" in prompt, prompt
            assert "temporal workflow terminate" in prompt and "retry" in prompt
            assert st.waiting_for != "nothing"
            assert (await squatter.describe()).status == WorkflowExecutionStatus.RUNNING
            await squatter.terminate("the person cleared the way")
            await handle.signal(BuildWorkflow.decide, DecideInput(choice="retry"))
            result = BuildResult.model_validate(await asyncio.wait_for(handle.result(), 240))
    assert result.result == "ALL_SUBTASKS_PR_CREATED", result


async def test_a_reset_build_adopts_its_healthy_child(
    client: Client,
    temporal_server: DevServer,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A build reset to its start finds its running child alive: followed, not restarted."""
    a_slow = writes_file_rule("a") | {"faults": [{"type": "hang", "seconds": 15}]}
    with scripted_model({"rules": [a_slow, passes_review()]}, monkeypatch, github.url) as messages:
        repo = tiny_project(tmp_path, github.url, {"a": []}, ONE_REVIEWER)
        build_id = wid()
        async with build_worker(client, "reset-queue"):
            await start(client, build_id, repo.design_dir, "reset-queue")
            await until(lambda: asyncio.sleep(0, builder_asked(messages, "a")), what="a's builder")
            child = client.get_workflow_handle(f"{build_id}-a")
            child_run = (await child.describe()).run_id
            reset = temporal_cli(
                temporal_server.address,
                *("workflow", "reset", "--workflow-id", build_id, "--type", "FirstWorkflowTask"),
                *("--reason", "a person reset the build", "--yes"),
            )
            assert reset.returncode == 0, reset.stderr
            latest = client.get_workflow_handle(build_id)
            raw = await asyncio.wait_for(latest.result(), timeout=240)
            st = await status_of(latest, BuildStatus)
    assert BuildResult.model_validate(raw).result == "ALL_SUBTASKS_PR_CREATED"
    assert st.notice.startswith(f"adopted {build_id}-a (run {child_run}"), st.notice
    # The child the first run started finished the work; no second one was started.
    assert (await child.describe()).run_id == child_run
    assert sum(1 for r in messages.requests if r.role == "builder" and r.scope == "a") == 2


async def test_work_left_with_nothing_running_holds_instead_of_ending(
    client: Client, tmp_path: Path, github: GitHubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The general guard: a build that finds work left, nothing running and nothing to wait
    for says so and asks, instead of waiting for nothing or ending quietly incomplete."""
    # a's builder takes a few seconds, so the forged report below lands before b starts.
    a_slow = writes_file_rule("a") | {"faults": [{"type": "hang", "seconds": 4}]}
    rules = [a_slow, writes_file_rule("b"), passes_review()]
    with scripted_model({"rules": rules}, monkeypatch, github.url) as messages:
        repo = tiny_project(tmp_path, github.url, {"a": [], "b": ["a"]}, ONE_REVIEWER)
        build_id = wid()
        async with build_worker(client, "guard-queue"):
            handle = await start(client, build_id, repo.design_dir, "guard-queue")
            await until(lambda: asyncio.sleep(0, builder_asked(messages, "a")), what="a's builder")
            # A forged report from the plain `temporal` CLI: b "runs", but no child does, so
            # once a has its PR nothing runs and nothing can start.
            await handle.signal(
                BuildWorkflow.subtask_progress,
                {"subtask": "b", "status": "in_progress", "phase": "building", "round": 0},
            )

            async def held() -> BuildStatus | None:
                st = await status_of(handle, BuildStatus)
                return st if st.decisions else None

            st = await until(held, limit=60, what="the build to hold")
            prompt = st.decisions[0].prompt
            assert "nothing runs and nothing is awaited" in prompt, prompt
            assert "b in_progress, waiting for a pr_created" in prompt, prompt
            assert st.waiting_for.startswith("decide retry/stop"), st.waiting_for
            await handle.signal(BuildWorkflow.decide, DecideInput(choice="stop"))
            result = BuildResult.model_validate(await asyncio.wait_for(handle.result(), 60))
    assert result.result == "SUBTASKS_INCOMPLETE"
    assert "nothing runs and nothing is awaited" in result.stop_reason


async def test_a_report_from_a_terminated_builds_child_is_ignored(
    client: Client, tmp_path: Path, github: GitHubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A terminated build leaves its children running (they outlive each run of it), and
    they report to the build's id: to the next build. What such a child says (here: the
    report it would send, with the run that started it) does not change the new build."""
    a_slow = writes_file_rule("a") | {"faults": [{"type": "hang", "seconds": 4}]}
    rules = [a_slow, writes_file_rule("b"), passes_review()]
    with scripted_model({"rules": rules}, monkeypatch, github.url) as messages:
        repo = tiny_project(tmp_path, github.url, {"a": [], "b": ["a"]}, ONE_REVIEWER)
        async with build_worker(client, "orphan-queue"):
            handle = await start(client, wid(), repo.design_dir, "orphan-queue")
            await until(lambda: asyncio.sleep(0, builder_asked(messages, "a")), what="a's builder")
            await handle.signal(
                BuildWorkflow.subtask_progress,
                {
                    "subtask": "b",
                    "status": "in_progress",
                    "phase": "building",
                    "round": 3,
                    "parent_run": "the-run-a-person-terminated",
                },
            )
            result = BuildResult.model_validate(await asyncio.wait_for(handle.result(), 240))
    assert result.result == "ALL_SUBTASKS_PR_CREATED", result
    assert builder_asked(messages, "b")  # b was started, not taken for running
