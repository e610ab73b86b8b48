"""A child whose build is gone ends its work cleanly instead of running on.

The build starts its children with ABANDON (they outlive its continue-as-new), so a
build that is terminated, fails or times out leaves them running with nobody to report
to. What the SDK raises on a signal to a closed workflow, then a terminated build's
subtask while its agent runs, at its next report, and while it waits on CI; and the
demo's fresh start, which ends them. Real server, real git, the real clients against
the stand-ins.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.worker import Worker

from cli.demo_repo import DemoRepo, git
from cli.demo_steps import fresh_start
from contracts.build import BuildInput, BuildStatus, SubtaskResult
from simulators.github_api import GitHubStandIn
from simulators.messages_api import MessagesStandIn
from tests.support import record_history, scripted_model, served_status, temporal_cli, until
from tests.workflows.builds import (
    ONE_REVIEWER,
    REPO,
    passes_review,
    start_build,
    tiny_project,
    writes_file_rule,
)
from worker import build_worker
from workflows.build import BuildWorkflow
from workflows.build_child import not_found

QUICK_LOOK = "\n[build]\norphan_check_s = 1\n"
NO_LOOK = "\n[build]\norphan_check_s = 3600\n"  # only a report finds the build gone


@workflow.defn(sandboxed=False)
class Signaller:
    """Signals `target` as a child reports to its build; says what the SDK raised."""

    @workflow.run
    async def run(self, target: str) -> list[str]:
        try:
            await workflow.get_external_workflow_handle(target).signal(
                BuildWorkflow.subtask_progress, "x"
            )
        except Exception as err:  # what exactly: the test reads it
            kind, message = getattr(err, "type", ""), getattr(err, "message", "")
            return [type(err).__name__, kind, message, str(not_found(err))]
        return ["delivered"]


async def test_a_signal_to_a_closed_or_unknown_workflow_raises_not_found(
    client: Client, task_queue: str
) -> None:
    """What `BuildChild.report` finds when its build is gone: an ApplicationError (which,
    uncaught, would fail the child), the same for a terminated run as for none at all."""
    closed = await client.start_workflow(
        "GoneBuild", id=f"gone-{uuid.uuid4().hex[:6]}", task_queue=f"{task_queue}-x"
    )
    await closed.terminate("a person terminated the build")
    async with Worker(client, task_queue=task_queue, workflows=[Signaller]):
        seen = [
            await client.execute_workflow(
                Signaller.run, target, id=f"signaller-{uuid.uuid4().hex[:6]}", task_queue=task_queue
            )
            for target in (closed.id, f"never-started-{uuid.uuid4().hex[:6]}")
        ]
    expected = [
        "ApplicationError",
        "ExternalWorkflowExecutionNotFound",
        "Unable to signal external workflow because it was not found",
        "True",
    ]
    assert seen == [expected, expected]


async def child_result(client: Client, child_id: str, limit: float) -> SubtaskResult:
    raw = await asyncio.wait_for(client.get_workflow_handle(child_id).result(), timeout=limit)
    return SubtaskResult.model_validate(raw)


def builder_asked(messages: MessagesStandIn, scope: str) -> bool:
    return any(r.scope == scope and r.role == "builder" for r in messages.requests)


@contextlib.asynccontextmanager
async def a_building(
    client: Client,
    where: tuple[Path, GitHubStandIn, pytest.MonkeyPatch],
    queue: str,
    hang_s: int,
    config: str,
    review_hang_s: int = 0,
) -> AsyncIterator[tuple[DemoRepo, WorkflowHandle, MessagesStandIn]]:
    """A build of one subtask a on `queue`, served, once a's builder was asked (it answers
    after `hang_s`, then every review passes, after `review_hang_s` when set)."""
    tmp_path, github, monkeypatch = where
    a = writes_file_rule("a") | {"faults": [{"type": "hang", "seconds": hang_s}]}
    review = passes_review("a")
    if review_hang_s:
        review |= {"faults": [{"type": "hang", "seconds": review_hang_s}]}
    with scripted_model({"rules": [a, review]}, monkeypatch, github.url) as messages:
        repo = tiny_project(tmp_path, github.url, {"a": []}, ONE_REVIEWER + config)
        async with build_worker(client, queue):
            build = await start_build(client, repo, queue)
            await until(lambda: asyncio.sleep(0, builder_asked(messages, "a")), what="a's builder")
            yield repo, build, messages


async def events(handle: WorkflowHandle) -> list[str]:
    return [EventType.Name(e.event_type) async for e in handle.fetch_history_events()]


async def test_a_terminated_builds_child_stops_its_running_agent(
    client: Client, tmp_path: Path, github: GitHubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build is terminated while a's builder works (for minutes): within seconds a
    ends, completed (not failed), its agent cancelled, its branch kept, saying why and
    how to pick it up."""
    where = (tmp_path, github, monkeypatch)
    async with a_building(client, where, "orphan-agent", 300, QUICK_LOOK) as (repo, build, _):
        await build.terminate("a person ended the build")
        result = await child_result(client, f"{build.id}-a", limit=60)
        child = client.get_workflow_handle(f"{build.id}-a")
        described = await child.describe()
        seen = await events(child)
        await record_history(child)  # a child that stopped its agent: for the replay test
    assert described.status == WorkflowExecutionStatus.COMPLETED
    assert result.status == "cancelled", result
    assert f"build {build.id} is closed (terminated)" in result.notes, result.notes
    assert "Branch feat/a and worktree" in result.notes and "run the build again" in result.notes
    assert "EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED" in seen  # its builder was stopped
    assert git(repo.root, "branch", "--list", "feat/a").strip().endswith("feat/a")


async def test_a_terminated_builds_child_stops_at_its_next_report(
    client: Client, tmp_path: Path, github: GitHubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No look at the build for an hour: the report after a's builder finds the build
    closed. a ends there, the builder's commit on its branch, nothing reviewed after."""
    where = (tmp_path, github, monkeypatch)
    async with a_building(client, where, "orphan-report", 6, NO_LOOK) as (repo, build, messages):
        await build.terminate("a person ended the build")
        result = await child_result(client, f"{build.id}-a", limit=60)
    assert result.status == "cancelled", result
    assert f"build {build.id} is closed (no run of it is open)" in result.notes, result.notes
    assert "feat(a): implement" in git(repo.root, "log", "--format=%s", "feat/a")
    assert not [r for r in messages.requests if r.role != "builder"]  # no review after


async def test_a_terminated_builds_child_stops_while_it_waits_on_ci(
    client: Client, tmp_path: Path, github: GitHubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """a follows its PR, CI never reports: it sends no report, yet finds its build gone
    within `[build] orphan_check_s` and ends; its PR stays open."""
    rules = [writes_file_rule("a"), passes_review("a")]
    forge = "follow = true\npoll_s = 1\npoll_max_s = 2"
    with scripted_model({"rules": rules}, monkeypatch, github.url):
        config = ONE_REVIEWER + "\n[build]\norphan_check_s = 3\n"
        repo = tiny_project(tmp_path, github.url, {"a": []}, config, forge=forge)
        github.protect(REPO, "main", contexts=["tests"], strict=False)
        async with build_worker(client, "orphan-ci"):
            build = await start_build(client, repo, "orphan-ci")

            async def following() -> bool:
                st = await served_status(build, BuildStatus)
                return st is not None and any(v.status == "ci_running" for v in st.subtasks)

            await until(following, limit=180, what="a following its PR")
            await build.terminate("a person ended the build")
            result = await child_result(client, f"{build.id}-a", limit=60)
        pulls = github.pulls(REPO)
    assert result.status == "cancelled", result
    assert f"build {build.id} is closed (" in result.notes, result.notes
    assert result.pr_url and [p["state"] for p in pulls] == ["open"]


async def test_the_demos_fresh_start_ends_the_children_of_the_build_it_replaces(
    client: Client, tmp_path: Path, github: GitHubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`./run demo` terminates an earlier demo's build; its running subtask goes with it,
    so the new build starts a afresh instead of finding its id taken."""
    said: list[str] = []
    where = (tmp_path, github, monkeypatch)
    async with a_building(client, where, "orphan-demo", 300, NO_LOOK) as (repo, old, _):
        old_a = await client.get_workflow_handle(f"{old.id}-a").describe()
        arg = BuildInput(design_dir=str(repo.design_dir))
        new = await fresh_start(
            client, BuildWorkflow, old.id, arg, "orphan-demo", "build", said.append
        )
        ended = await client.get_workflow_handle(old_a.id, run_id=old_a.run_id).describe()

        async def new_a() -> bool:
            desc = await client.get_workflow_handle(old_a.id).describe()
            running = desc.status == WorkflowExecutionStatus.RUNNING
            return running and desc.run_id != old_a.run_id

        await until(new_a, limit=60, what="a started again by the new build")
        st = await served_status(new, BuildStatus)
        await new.terminate("test over")
        await client.get_workflow_handle(old_a.id).terminate("test over")
    assert ended.status == WorkflowExecutionStatus.TERMINATED
    assert said == [f"  ended {old.id}-a, left running by the earlier {old.id}"]
    assert st is not None and "stale" not in st.notice, st.notice


async def test_a_child_the_new_build_ignores_is_told_and_ends(
    client: Client, tmp_path: Path, github: GitHubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A person terminates the build and starts it again, paused: a's report reaches the
    new build, which neither started nor takes it over, ignores it and tells a to look.
    a ends at once (its own look is an hour away), saying a new build runs."""
    where = (tmp_path, github, monkeypatch)
    # a's review waits (60 s) after the report that reaches the new build: whatever the
    # load, a cannot reach its PR before it is told to look (under two CPU burners it did);
    # told, it ends as its review's cancel lands, or at the latest when the review answers.
    building = a_building(client, where, "orphan-told", 20, NO_LOOK, review_hang_s=60)
    async with building as (repo, old, _):
        await old.terminate("a person ended the build")
        started = temporal_cli(
            client.service_client.config.target_host,
            *("workflow", "signal-with-start", "--workflow-id", old.id, "--type"),
            *("BuildWorkflow", "--task-queue", "orphan-told", "--signal-name", "!pause"),
            *("--input", json.dumps({"design_dir": str(repo.design_dir)})),
        )
        assert started.returncode == 0, started.stderr
        new = client.get_workflow_handle(old.id)
        result = await child_result(client, f"{old.id}-a", limit=150)
        st = await served_status(new, BuildStatus)
        await new.terminate("test over")
        await record_history(new, also="told")  # a build that told a child to look
    assert result.status == "cancelled", result
    started_by = f"build {old.id}'s run {old.result_run_id}, which started it, ended terminated"
    assert started_by in result.notes, result.notes
    assert "is a new one" in result.notes and "run the build again" in result.notes
    assert st is not None and next(v for v in st.subtasks if v.name == "a").status == "pending"
