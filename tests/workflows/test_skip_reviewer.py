"""Skip one reviewer (seed 002's "Skip review", issue 23): a failure hold on a reviewer also
offers `skip-reviewer`; the round goes on without that reviewer's score, and the review
record (the PR text committed on the branch), the PR body and the tracker notes say so."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import Client

from activities.tracker import read_tracker
from contracts.build import BuildResult, BuildStatus
from contracts.human import DecideInput, PendingDecision
from simulators.github_api import GitHubStandIn
from tests.support import scripted_model, status_of, until
from tests.workflows.builds import REPO, git_out, start_build, tiny_project, writes_file_rule
from worker import build_worker
from workflows.build import BuildWorkflow

TWO_REVIEWERS = '\n[reviewers]\ncode = ["code-correctness", "code-performance"]\n'


async def test_skip_reviewer_goes_on_without_its_score_and_says_so(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = {
        "match": {"role": "code-performance"},
        "faults": [{"type": "400", "times": 50, "message": "model: claude-x is not a model"}],
    }
    passes = {"match": {"role": "code-correctness"}, "submit": {"score": 0.99}}
    rules = [writes_file_rule("a"), broken, passes]
    with scripted_model({"rules": rules}, monkeypatch, github.url) as messages:
        repo = tiny_project(tmp_path, github.url, {"a": []}, TWO_REVIEWERS)
        async with build_worker(client, task_queue):
            handle = await start_build(client, repo, task_queue)

            async def held() -> PendingDecision | None:
                st = await status_of(handle, BuildStatus)
                return next((d for d in st.decisions if d.kind == "failure"), None)

            decision = await until(held, limit=120, what="the reviewer's failure hold")
            assert decision.options == ["retry", "skip", "stop", "skip-reviewer"]
            assert "review a · code-performance" in decision.prompt
            await handle.signal(BuildWorkflow.decide, DecideInput(choice="skip-reviewer"))
            result = BuildResult.model_validate(await handle.result())

    assert result.result == "ALL_SUBTASKS_PR_CREATED", result
    (a,) = result.subtasks
    assert a.scores == {"code-correctness": 0.99} and a.rounds == 1
    assert "reviewer(s) skipped by a person: code-performance" in a.notes
    asked = [r for r in messages.requests if r.role == "code-performance"]
    assert {r.round for r in asked} == {1}  # not asked again after the skip
    (pull,) = [p for p in github.pulls(REPO) if p["head"]["ref"] == "feat/a"]
    assert "- code-performance: skipped by a person (" in pull["body"]
    assert "claude-x is not a model" in pull["body"]
    record = git_out(
        repo.root,
        "show",
        "feat/a:design-docs/active/link-shortener/build-reviews/a/PULL_REQUEST.md",
    )
    assert "- code-performance: skipped by a person (" in record
    rows = read_tracker(str(repo.root / "design-docs/orchestration/pr_tracker.md"))
    row = next(r for r in rows["link-shortener"] if r.subtask == "a")
    assert "skipped by a person: code-performance" in row.notes
