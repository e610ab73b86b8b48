"""File conflicts ask first (seed 001, issue 23): a new build whose plan has two subtasks of one
stage changing the same file asks before anything starts: continue, serialize (one after
another, the second starting from the first's work) or stop. `status` shows the conflict
and the choice."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from temporalio.client import Client

from contracts.build import BuildResult, BuildStatus
from contracts.human import DecideInput
from simulators.github_api import GitHubStandIn
from tests.support import scripted_model, status_of
from tests.workflows.builds import (
    REPO,
    SHARING_RULES,
    conflict_question,
    git_out,
    sharing_project,
    start_build,
)
from worker import build_worker
from workflows.build import BuildWorkflow


async def test_serialize_builds_the_second_on_the_first(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with scripted_model({"rules": SHARING_RULES}, monkeypatch, github.url) as messages:
        repo = sharing_project(tmp_path, github.url)
        async with build_worker(client, task_queue):
            handle = await start_build(client, repo, task_queue)
            st, question = await conflict_question(handle)
            assert question.options == ["continue", "serialize", "stop"]
            assert "stage 1: src/shared.txt (a, b)" in question.prompt
            assert [(c.file, c.subtasks) for c in st.file_conflicts] == [
                ("src/shared.txt", ["a", "b"])
            ]
            assert "decide continue/serialize/stop" in st.waiting_for
            assert messages.requests == []  # nothing started
            await handle.signal(BuildWorkflow.decide, DecideInput(choice="serialize"))
            result = BuildResult.model_validate(await handle.result())
            st = await status_of(handle, BuildStatus)

    assert result.result == "ALL_SUBTASKS_PR_CREATED", result
    assert st.conflict_choice == "serialize"
    first = {r.scope: r.at for r in reversed(messages.requests)}
    last = {r.scope: r.at for r in messages.requests}
    assert first["b"] > last["a"]  # one after another
    ancestor = ["git", "merge-base", "--is-ancestor", "feat/a", "feat/b"]
    assert subprocess.run(ancestor, cwd=repo.root).returncode == 0  # b starts from a's work
    bases = {p["head"]["ref"]: p["base"]["ref"] for p in github.pulls(REPO)}
    assert bases["feat/b"] == "feat/a"
    assert git_out(repo.root, "show", "integration/link-shortener:src/shared.txt") == "alpha\nbeta"
    assert result.integration is not None and result.integration.status == "passed"


async def test_stop_ends_the_build_before_anything_starts(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with scripted_model({"rules": SHARING_RULES}, monkeypatch, github.url) as messages:
        repo = sharing_project(tmp_path, github.url)
        async with build_worker(client, task_queue):
            handle = await start_build(client, repo, task_queue)
            await conflict_question(handle)
            await handle.signal(
                BuildWorkflow.decide, DecideInput(scope="file-conflicts", choice="stop")
            )
            result = BuildResult.model_validate(await handle.result())

    assert result.result == "SUBTASKS_INCOMPLETE"
    assert "file conflicts" in result.stop_reason
    assert messages.requests == [] and github.pulls(REPO) == []
    assert git_out(repo.root, "branch", "--list", "feat/*") == ""
