"""`orchestrator clean <dir>` and the worktrees' disk in `status` (issue 23), run as processes
against a real server after a real build: pushed worktrees and branches go, anything
uncommitted or unpushed stays and is named."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from temporalio.client import Client

from contracts.build import BuildInput, BuildResult
from simulators.github_api import GitHubStandIn
from tests.cli.commands import orchestrator
from tests.support import scripted_model, write
from tests.workflows.builds import (
    ONE_REVIEWER,
    builder,
    git_out,
    passes_review,
    tiny_project,
)
from worker import build_worker
from workflows.build import BuildWorkflow


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True)


async def test_clean_removes_what_is_pushed_and_names_what_it_keeps(
    client: Client,
    task_queue: str,
    temporal_env: dict[str, str],
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rules = [
        builder("a", [write("src/a.txt", "a\n")]),
        builder("b", [write("src/b.txt", "b\n")]),
        passes_review("a"),
        passes_review("b"),
    ]
    config = ONE_REVIEWER + "\n[build]\nkeep_worktrees = true\n"
    with scripted_model({"rules": rules}, monkeypatch, github.url):
        repo = tiny_project(tmp_path, github.url, {"a": [], "b": []}, config)
        async with build_worker(client, task_queue):
            handle = await client.start_workflow(
                BuildWorkflow.run,
                BuildInput(design_dir=str(repo.design_dir)),
                id="build-link-shortener",  # the id the CLI derives from the directory
                task_queue=task_queue,
            )
            result = BuildResult.model_validate(await handle.result())
    assert result.result == "ALL_SUBTASKS_PR_CREATED" and result.cleanup is None  # kept
    trees = repo.root / ".worktrees"
    assert sorted(p.name for p in trees.iterdir()) == ["a", "b", "integration"]
    design = str(repo.design_dir)
    # The status of a finished build says what its worktrees take on disk.
    shown = await orchestrator(temporal_env, "status", design)
    assert shown.returncode == 0, shown.stderr
    assert f"Worktrees: 3 in {trees} (a, b, integration): " in shown.stdout, shown.stdout

    (trees / "b/src/b.txt").write_text("b, edited\n")  # not committed
    (trees / "integration/notes.txt").write_text("mine\n")
    git(trees / "integration", "add", "notes.txt")
    git(trees / "integration", "commit", "-qm", "a commit origin does not have")
    unpushed = git_out(repo.root, "rev-parse", "integration/link-shortener")

    cleaned = await orchestrator(temporal_env, "clean", design)
    assert cleaned.returncode == 2, cleaned.stdout + cleaned.stderr
    assert f"removed {trees / 'a'}: " in cleaned.stdout and " MB freed" in cleaned.stdout
    assert "deleted local branches (their work is on origin): feat/a" in cleaned.stdout
    assert f"kept {trees / 'b'}: uncommitted changes: src/b.txt" in cleaned.stderr
    assert (
        f"kept {trees / 'integration'}: integration/link-shortener has commits origin does "
        "not have" in cleaned.stderr
    )
    assert "Fix: commit and push what is kept" in cleaned.stderr
    assert not (trees / "a").exists() and git_out(repo.root, "branch", "--list", "feat/a") == ""
    assert (trees / "b/src/b.txt").read_text() == "b, edited\n"
    assert git_out(repo.root, "rev-parse", "integration/link-shortener") == unpushed

    git(trees / "b", "checkout", "--", "src/b.txt")
    git(trees / "integration", "push", "-q", "origin", "integration/link-shortener")
    again = await orchestrator(temporal_env, "clean", design)
    assert again.returncode == 0, again.stdout + again.stderr
    assert not trees.exists() or not any(trees.iterdir())
    assert git_out(repo.root, "branch", "--list", "feat/*", "integration/*") == ""
    shown = await orchestrator(temporal_env, "status", design, "--json")
    assert '"bytes": 0' in shown.stdout
