"""A builder that links its record directory to the git directory holds its subtask.

The attack seen: the builder replaced `build-reviews/<subtask>` in its worktree with
a symbolic link to the main checkout's `.git`, and the PR step wrote the reviews and
the PR description through it. Now the PR step refuses before writing anything, the
subtask holds with the link named and the fix, and `retry` after the link is gone
publishes the record and opens the pull request.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from temporalio.client import Client

from contracts.build import BuildResult, BuildStatus
from contracts.human import DecideInput
from simulators.github_api import GitHubStandIn
from tests.support import scripted_model, status_of, until, write
from tests.workflows.builds import (
    ONE_REVIEWER,
    REPO,
    builder,
    git_out,
    passes_review,
    start_build,
    tiny_project,
)
from worker import build_worker
from workflows.build import BuildWorkflow

RECORD = "design-docs/active/link-shortener/build-reviews/a"
# From the record's parent in `.worktrees/a` up to the main checkout, then into `.git`.
PLANT = f"mkdir -p {os.path.dirname(RECORD)} && ln -s ../../../../../../.git {RECORD}"


async def test_a_planted_record_link_holds_the_subtask_and_retry_after_removing_it_opens_the_pr(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rules = [
        builder(
            "a",
            [write("src/a.txt", "a\n"), {"tool": "run_command", "input": {"command": PLANT}}],
        ),
        passes_review("a"),
        passes_review("integration"),
    ]
    config = ONE_REVIEWER + "\n[integration]\nenabled = false\n"
    with scripted_model({"rules": rules}, monkeypatch, github.url):
        repo = tiny_project(tmp_path, github.url, {"a": []}, config)
        git_dir = repo.root / ".git"
        async with build_worker(client, task_queue):
            handle = await start_build(client, repo, task_queue)

            async def held() -> list | None:
                st = await status_of(handle, BuildStatus)
                return [d for d in st.decisions if d.kind == "failure"] or None

            (decision,) = await until(held, limit=120, what="the PR step to hold")
            failure = decision.failure
            assert (
                failure.error_type == "UnsafeRecordPath" and failure.step == "pull request feat/a"
            )
            assert "`a` on that path is a symbolic link (to ../../../../../../.git)" in (
                failure.error
            )
            assert "Fix: remove the link" in failure.error
            assert failure.retry_state == "non retryable failure"
            assert not (git_dir / "PULL_REQUEST.md").exists()
            assert not list(git_dir.glob("*_code-correctness.md"))
            assert github.pulls(REPO) == []

            # The person removes the link from the worktree and answers retry.
            (repo.root / ".worktrees" / "a" / RECORD).unlink()
            await handle.signal(BuildWorkflow.decide, DecideInput(choice="retry"))
            result = BuildResult.model_validate(await handle.result())

    assert result.result == "ALL_SUBTASKS_PR_CREATED", result
    (pull,) = github.pulls(REPO)
    assert pull["head"]["ref"] == "feat/a"
    assert "Opened by the orchestrator" in git_out(
        repo.root, "show", f"feat/a:{RECORD}/PULL_REQUEST.md"
    )
    assert not (git_dir / "PULL_REQUEST.md").exists()
