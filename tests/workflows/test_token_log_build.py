"""A build's agents log one token-log row per answered request, in the design directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import Client

from activities.agents.telemetry import read_rows
from contracts.agents import Usage
from contracts.build import BuildResult
from contracts.telemetry import token_log_path
from simulators.github_api import GitHubStandIn
from tests.support import scripted_model
from tests.workflows.builds import (
    ONE_REVIEWER,
    git_out,
    passes_review,
    start_build,
    tiny_project,
    writes_file_rule,
)
from worker import build_worker
from workflows.build import BuildWorkflow


async def test_a_build_logs_one_row_per_answered_request_and_never_commits_the_log(
    client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    overloaded = writes_file_rule("a")
    overloaded["faults"] = [{"type": 529, "times": 1, "retry_after": 1}]  # answered by no model
    with (
        GitHubStandIn() as github,
        scripted_model(
            {"rules": [overloaded, writes_file_rule("b"), passes_review()]}, monkeypatch, github.url
        ) as model,
    ):
        repo = tiny_project(tmp_path, github.url, {"a": [], "b": ["a"]}, ONE_REVIEWER)
        async with build_worker(client, task_queue):
            handle = await start_build(client, repo, task_queue)
            result = BuildResult.model_validate(await handle.result())
            metrics = await handle.query(BuildWorkflow.metrics)
    assert result.result == "ALL_SUBTASKS_PR_CREATED"
    rows = read_rows(Path(token_log_path(str(repo.design_dir))))
    answered = [r for r in model.requests if r.action != "error"]
    assert len(model.requests) == len(answered) + 1  # the 529
    assert sorted((r.role, r.scope, r.turn, r.input_tokens) for r in rows) == sorted(
        (r.role, r.scope, r.turn, r.usage["input_tokens"]) for r in answered
    )
    assert {r.workflow_id for r in rows} == {f"{handle.id}-a", f"{handle.id}-b"}
    assert {r.role for r in rows} == {"builder", "code-correctness"}
    # The overloaded request was asked again by the activity's second attempt.
    assert {r.attempt for r in rows if r.role == "builder" and r.scope == "a"} == {2}
    assert len({r.key for r in rows}) == len(rows)
    logged = sum((r.usage() for r in rows), Usage())
    assert logged.total_tokens == metrics.total.total_tokens
    assert logged.cost_usd == pytest.approx(metrics.total.cost_usd, abs=1e-5)
    # The log is the loops' own record: no branch holds it, the checkout shows nothing.
    for branch in ("feat/a", "feat/b"):
        assert "telemetry" not in git_out(repo.root, "ls-tree", "-r", "--name-only", branch)
    assert "telemetry" not in git_out(repo.root, "status", "--porcelain", "--untracked-files=all")
