"""`orchestrator replay <dir> <subtask> <round>`: seed 004's `!replay` on a running build."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from contracts.build import BuildInput, BuildResult, BuildStatus
from simulators.github_api import GitHubStandIn
from tests.conftest import REPO_ROOT
from tests.support import scripted_model, status_of, until
from tests.workflows.builds import ONE_REVIEWER, passes_review, tiny_project, writes_file_rule
from worker import build_worker
from workflows.build import BuildWorkflow


def branch_has(root: Path, rel: str) -> bool:
    found = subprocess.run(["git", "cat-file", "-e", f"feat/a:{rel}"], cwd=root)
    return found.returncode == 0


def fixer_rule(rnd: int) -> dict:
    return {
        "match": {"role": "fixer", "round": rnd},
        "steps": [{"tool": "write_file", "input": {"path": f"src/r{rnd}.txt", "content": "x"}}],
        "submit": {"summary": f"fix {rnd}", "files_changed": [f"src/r{rnd}.txt"]},
    }


async def test_replay_resets_branch_and_workflow_to_a_round(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    temporal_env: dict[str, str],
) -> None:
    low = {"match": {"kind": "review"}, "submit": {"score": 0.5}}
    rules = [writes_file_rule("a"), fixer_rule(1), fixer_rule(2), fixer_rule(3), low]
    with (
        GitHubStandIn() as github,
        scripted_model({"rules": rules}, monkeypatch, github.url) as messages,
    ):
        repo = tiny_project(tmp_path, github.url, {"a": []}, ONE_REVIEWER, top="stuck_rounds = 2")
        build_wid = f"build-link-shortener-{uuid.uuid4().hex[:6]}"
        async with build_worker(client, task_queue):
            handle = await client.start_workflow(
                BuildWorkflow.run,
                BuildInput(design_dir=str(repo.design_dir)),
                id=build_wid,
                task_queue=task_queue,
            )

            async def stuck() -> bool:
                st = await status_of(handle, BuildStatus)
                return bool(st.subtasks) and st.subtasks[0].decision is not None

            await until(stuck, what="the stuck prompt after round 3")
            worktree = repo.root / ".worktrees/a"
            assert (worktree / "src/r2.txt").exists()
            # From here on the reviewers are satisfied.
            messages.reset({"rules": [writes_file_rule("a"), fixer_rule(1), passes_review()]})
            env = {**temporal_env, "ORCHESTRATOR_BUILD_ID": build_wid}
            done = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "starter", "replay", str(repo.design_dir), "a", "1",
                 "--build-id", build_wid],
                cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            assert "reset to" in done.stdout and "round 1" in done.stdout
            result = BuildResult.model_validate(await handle.result())
    assert result.result == "ALL_SUBTASKS_PR_CREATED"
    assert result.subtasks[0].rounds == 2  # rounds after 1 were discarded and redone
    # The discarded round's work is gone from the branch (whose worktree the build removed
    # once integration passed: nothing more will be done in it).
    assert not worktree.exists()
    assert branch_has(repo.root, "src/r1.txt") and not branch_has(repo.root, "src/r2.txt")
    log = subprocess.run(
        ["git", "log", "--format=%s", "feat/a"], cwd=repo.root, capture_output=True, text=True
    ).stdout
    assert "review round 2" not in log
